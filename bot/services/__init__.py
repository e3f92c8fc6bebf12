"""Use cases with I/O that chat handlers, the scheduler's jobs and the CLI share: each
reads storage, applies the pure rules of ``bot.domain``, and queues cards through the
outbox in the caller's transaction (none of them commits).

* ``activities``        create, move or cancel an activity: its chain of tasks, announced
* ``digests``           a period's digest numbers (the digest card, the weekly draft)
* ``calendar_notices``  ask the admins to confirm a year's working-day calendar, once
"""
