"""Numbers written in words: Chinese numerals (cn2an) and small English number words."""

from __future__ import annotations

import re

# A Chinese numeral is only a number when a unit follows it: "每周一" is Monday, "每周一次"
# is once a week, "五个工作日" is 5 working days; "下一年度" names a period, not a count.
_CN_NUMBER = re.compile(
    r"(?<![星周拜上下同统唯])([零〇一二两三四五六七八九十百]+)"
    r"(?=\s*(?:个|工作日|自然日|天|日|号|小时|钟头|分钟|秒|周|月|年|场|篇|条|项|名|人|倍|通|%|％))"
)
_CN_CLOCK = re.compile(r"(上午|下午|晚上|中午|傍晚|早上)([零一二两三四五六七八九十]+)(?=[点时])")
_CN_PERCENT = re.compile(r"百分之([零一二两三四五六七八九十百点]+)")

EN_NUMBERS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
}
EN_NUMBERS.update(
    {"thirty": 30, "forty": 40, "forty-eight": 48, "seventy-two": 72, "a": 1, "an": 1}
)
EN_ORDINALS = {
    w: i + 1
    for i, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
        "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
        "twentieth".split()
    )
}
_EN_NUMBER = re.compile(
    r"\b(" + "|".join(sorted((w for w in EN_NUMBERS if len(w) > 2), key=len, reverse=True)) + r")"
    r"(?=\s*(?:\(\d+\)\s*)?(?:calendar |working |business |full )?"
    r"(?:days?|hours?|minutes?|weeks?|months?|times?)\b)",
    re.IGNORECASE,
)
_EN_ORDINAL = re.compile(
    r"\bthe (" + "|".join(EN_ORDINALS) + r")\b(?! (?:week|month|quarter|working|business))",
    re.IGNORECASE,
)


def cn_to_int(text: str) -> int | None:
    import cn2an  # imported on use: it takes ~0.2 s

    try:
        value = cn2an.cn2an(text, "smart")
    except (ValueError, KeyError):
        return None
    return int(value) if float(value).is_integer() else None


def normalise(text: str) -> str:
    """Write numbers as digits where they count something: 三十天 -> 30天, five days -> 5 days.

    Full-width digits and punctuation that matter for parsing are folded to ASCII first."""
    text = text.translate(_FULLWIDTH)

    def cn(m: re.Match) -> str:
        n = cn_to_int(m.group(1))
        return str(n) if n is not None else m.group(1)

    def pct(m: re.Match) -> str:
        try:
            import cn2an

            return f"{cn2an.cn2an(m.group(1), 'smart'):g}%"
        except (ValueError, KeyError):
            return m.group(0)

    text = _CN_PERCENT.sub(pct, text)
    text = _CN_NUMBER.sub(cn, text)
    text = _CN_CLOCK.sub(lambda m: m.group(1) + str(cn_to_int(m.group(2)) or m.group(2)), text)
    text = _EN_NUMBER.sub(lambda m: str(EN_NUMBERS[m.group(1).lower()]), text)
    text = re.sub(r"\b(\d+)\s*\(\1\)", r"\1", text)  # "five (5) days"
    text = _EN_ORDINAL.sub(lambda m: f"the {EN_ORDINALS[m.group(1).lower()]}th", text)
    return text


_FULLWIDTH = str.maketrans("０１２３４５６７８９％：．～－＞＜＝", "0123456789%:.~-><=")
