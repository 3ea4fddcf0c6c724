"""Extraction and normalisation of the identifiers customers type.

Pure functions (no Rasa import) shared by the NLU component, the actions and the tests, so an
order number typed as "ped 10234" or "Pedido #10234" always ends up as the canonical "PED-10234".

Matching works on a *folded* copy of the text (`bot.folding.fold`: lowercase, accents and
compatibility forms removed) that keeps the original length, so every span found maps 1:1 back
onto the input.
"""
from __future__ import annotations

import bisect
import functools
import re
from typing import Callable, Iterable, Iterator, NamedTuple, Optional

from bot.demo_data import BRANCHES, PRODUCTS
from bot.folding import fold

ORDER_ID_RE = re.compile(r"^PED-[0-9]{5}$")
TICKET_ID_RE = re.compile(r"^TCK-[0-9]{4}$")

# Longest value we still try to read as a single identifier; longer values are free text.
_MAX_VALUE_LEN = 60


class Span(NamedTuple):
    """A canonical value and the [start, end) character span it was read from."""

    value: str
    start: int
    end: int


# --------------------------------------------------------------------------- order / ticket ids

_SEP = r"[\s\-\u2010-\u2015_:]*"
_NUM_STRICT = r"(?:numero|number|num\.?|nro\.?|nr\.?|no\.|n°|#)"
_NUM_LOOSE = r"(?:numero|number|num\.?|nro\.?|nr\.?|no[.:]?|n°|#)"
_FILLER = r"(?:(?:es|era|el|is|was)\s+)"
_ORDER_WORDS = r"(?:orden(?:es)?(?:\s+de\s+compra)?|pedidos?|orders?|ped|compras?)"
_TICKET_WORDS = (
    r"(?:tickets?|tiquets?|tikets?|tck|folios?|reportes?|reports?|casos?|cases?|incidencias?)"
)
_END = r"(?![0-9a-z])"
_START = r"(?<![a-z0-9])"


def _prefix(words: str) -> str:
    # "pedido 10234", "pedido no. 10234", "pedido es el 10234", "order number is 10234"
    return (
        rf"{words}{_SEP}(?:{_NUM_LOOSE}{_SEP})?{_FILLER}{{0,2}}(?:{_NUM_LOOSE}{_SEP})?"
    )


def _full_value_re(words: str, digits: int) -> re.Pattern[str]:
    return re.compile(
        rf"(?:{_prefix(words)}|{_NUM_LOOSE}{_SEP})?#?\s*(?P<d>[0-9]{{{digits}}})"
    )


def _free_text_re(own: str, other: str, digits: int) -> re.Pattern[str]:
    # The "skip" branch swallows numbers introduced by the *other* kind of id word, so
    # "ticket número 12345" never yields an order and "pedido no. 2041" never a ticket.
    return re.compile(
        rf"(?P<skip>{_START}{_prefix(other)}#?[0-9]+)"
        rf"|{_START}(?P<w>{_prefix(own)}#?)(?P<d1>[0-9]{{{digits}}}){_END}"
        rf"|(?<![a-z0-9#]){_NUM_STRICT}{_SEP}(?P<d2>[0-9]{{{digits}}}){_END}"
    )


_ORDER_FULL = _full_value_re(_ORDER_WORDS, 5)
_TICKET_FULL = _full_value_re(_TICKET_WORDS, 4)
_ORDER_FREE = _free_text_re(_ORDER_WORDS, _TICKET_WORDS, 5)
_TICKET_FREE = _free_text_re(_TICKET_WORDS, _ORDER_WORDS, 4)
_ORDER_CONT = re.compile(r"\s*(?:,|;|/|&|\by\b|\be\b|\band\b)\s*#?\s*(?P<d>[0-9]{5})" + _END)
_TICKET_CONT = re.compile(r"\s*(?:,|;|/|&|\by\b|\be\b|\band\b)\s*#?\s*(?P<d>[0-9]{4})" + _END)
_STRIP_CHARS = " \t\r\n.,;:!?¡¿\"'`()[]{}<>*"


def _normalise_id(text: str | None, full: re.Pattern[str], prefix: str) -> str | None:
    if not text or not isinstance(text, str):
        return None
    value = fold(text).strip(_STRIP_CHARS)
    if len(value) > _MAX_VALUE_LEN:
        return None
    match = full.fullmatch(value)
    return f"{prefix}-{match.group('d')}" if match else None


def normalise_order_id(text: str | None) -> str | None:
    """Canonical "PED-12345" for a value that is an order number in any typed form, else None."""
    return _normalise_id(text, _ORDER_FULL, "PED")


def normalise_ticket_id(text: str | None) -> str | None:
    """Canonical "TCK-1234" for a value that is a ticket number in any typed form, else None."""
    return _normalise_id(text, _TICKET_FULL, "TCK")


def _find_id_spans(
    text: str,
    normalise: Callable[[str], str | None],
    free: re.Pattern[str],
    cont: re.Pattern[str],
    prefix: str,
) -> list[Span]:
    if not text:
        return []
    whole = normalise(text)
    if whole:
        folded = fold(text)
        digits = re.search(r"[0-9]+", folded)
        if digits is None:  # cannot happen: a normalised id is read from these digits
            return []
        start = digits.start()
        # keep an attached short prefix ("ped10234", "TCK-2041") inside the span
        short = re.search(rf"{prefix.lower()}{_SEP}$", folded[: digits.start()])
        if short:
            start = short.start()
        return [Span(whole, start, digits.end())]

    folded = fold(text)
    spans: list[Span] = []
    for match in free.finditer(folded):
        if match.group("skip") is not None:
            continue
        group = "d1" if match.group("d1") is not None else "d2"
        start = match.start(group)
        word = match.group("w") or ""
        if word.startswith(prefix.lower()) and not re.match(r"[a-z]{4}", word):
            start = match.start()  # "ped-10234" is the id itself, not a lead-in word
        spans.append(Span(f"{prefix}-{match.group(group)}", start, match.end(group)))
        pos = match.end()
        while True:  # "pedidos 10234, 10235 y 10236"
            nxt = cont.match(folded, pos)
            if not nxt or _UNIT_AFTER.match(folded, nxt.end()):
                break
            spans.append(Span(f"{prefix}-{nxt.group('d')}", nxt.start("d"), nxt.end("d")))
            pos = nxt.end()
    return _dedupe(spans)


def _dedupe(spans: list[Span]) -> list[Span]:
    seen: set[str] = set()
    out = []
    for span in spans:
        if span.value not in seen:
            seen.add(span.value)
            out.append(span)
    return out


def find_order_id_spans(text: str) -> list[Span]:
    """Order ids in free text with their character spans, first mention first."""
    return _find_id_spans(text, normalise_order_id, _ORDER_FREE, _ORDER_CONT, "PED")


def find_ticket_id_spans(text: str) -> list[Span]:
    """Ticket ids in free text with their character spans, first mention first."""
    return _find_id_spans(text, normalise_ticket_id, _TICKET_FREE, _TICKET_CONT, "TCK")


def find_order_ids(text: str) -> list[str]:
    """Every order id mentioned in free text, canonical and without repeats.

    A bare 5-digit number only counts when it is the whole message or follows an order word,
    so "quiero 10000 piezas" has none.
    """
    return [s.value for s in find_order_id_spans(text)]


def find_ticket_ids(text: str) -> list[str]:
    """Every ticket id mentioned in free text, canonical and without repeats."""
    return [s.value for s in find_ticket_id_spans(text)]


# --------------------------------------------------------------------------- emails

_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}"
    r"(?![A-Za-z0-9\-])"
)


def find_email_spans(text: str) -> list[Span]:
    """Email addresses (lowercased) with their spans."""
    if not text:
        return []
    spans = [Span(m.group(0).lower(), m.start(), m.end()) for m in _EMAIL_RE.finditer(text)]
    return _dedupe(spans)


def find_emails(text: str) -> list[str]:
    """Email addresses in the text, lowercased, without repeats."""
    return [s.value for s in find_email_spans(text)]


# --------------------------------------------------------------------------- quantities

_ES_NUMBERS = {
    "un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13,
    "catorce": 14, "quince": 15, "dieciseis": 16, "diecisiete": 17, "dieciocho": 18,
    "diecinueve": 19, "veinte": 20, "veintiun": 21, "veintiuno": 21, "veintiuna": 21,
    "veintidos": 22, "veintitres": 23, "veinticuatro": 24, "veinticinco": 25,
    "veintiseis": 26, "veintisiete": 27, "veintiocho": 28, "veintinueve": 29, "treinta": 30,
    "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80,
    "noventa": 90, "cien": 100, "ciento": 100, "doscientos": 200, "doscientas": 200,
    "trescientos": 300, "trescientas": 300, "cuatrocientos": 400, "cuatrocientas": 400,
    "quinientos": 500, "quinientas": 500, "seiscientos": 600, "seiscientas": 600,
    "setecientos": 700, "setecientas": 700, "ochocientos": 800, "ochocientas": 800,
    "novecientos": 900, "novecientas": 900,
}
_EN_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}
_NUMBER_WORDS = {**_ES_NUMBERS, **_EN_NUMBERS}
_SCALES = {"mil": 1000, "thousand": 1000, "hundred": 100}
_CONNECTORS = {"y", "and"}
# Words that are a count by themselves ("una docena", "un par de", "a dozen").
_MULTIPLIERS = {
    "docena": 12, "docenas": 12, "dozen": 12, "dozens": 12, "decena": 10, "decenas": 10,
    "par": 2, "pares": 2, "pair": 2, "pairs": 2, "couple": 2,
}
_HALF = {"media", "medio", "half"}
# Single-word numbers too ambiguous to count without a unit after them ("un toner" is fine,
# "the one with..." is not).
_WEAK = {"un", "uno", "una", "one"}
_UNITS = {
    "pieza", "piezas", "pza", "pzas", "pz", "pzs", "pcs", "pc", "pieces", "piece", "unidad",
    "unidades", "ud", "uds", "u", "units", "unit", "items", "item", "articulos", "articulo",
    "productos", "producto", "cajas", "caja", "paquetes", "paquete", "packs", "pack", "boxes",
    "box", "licencias", "licencia", "licenses", "license", "equipos", "equipo", "usuarios",
    "users",
}
_PRODUCT_NOUNS = {
    "toner", "toners", "cartucho", "cartuchos", "cartridge", "cartridges", "tinta", "tintas",
    "botella", "botellas", "impresora", "impresoras", "printer", "printers", "multifuncional",
    "multifuncionales", "router", "routers", "switch", "switches", "access", "bobina",
    "bobinas", "cable", "cables", "laptop", "laptops", "computadora", "computadoras", "pcs",
    "monitor", "monitores", "monitors", "pantalla", "pantallas", "ssd", "ssds", "disco",
    "discos", "memoria", "memorias", "usb", "nobreak", "nobreaks", "ups", "regulador",
    "reguladores", "kit", "kits", "teclado", "teclados", "keyboard", "keyboards", "mouse",
    "mouses", "raton", "ratones", "diadema", "diademas", "audifonos", "headset", "headsets",
    "camara", "camaras", "webcam", "webcams", "antivirus", "tarjeta", "tarjetas", "hp", "epson",
    "brother", "lenovo", "dell", "acer", "logitech", "kingston", "samsung", "lg", "office",
}
# Units of measure / time after a number mean it is not a count of items.
_NOT_COUNT = {
    "gb", "tb", "mb", "kb", "ghz", "mhz", "hz", "m", "mts", "metro", "metros", "cm", "mm", "km",
    "pulgadas", "pulgada", "in", "inch", "inches", "va", "w", "watts", "v", "mah", "puertos",
    "puerto", "ports", "dias", "dia", "semanas", "semana", "meses", "mes", "anos",
    "ano", "horas", "hora", "hrs", "hr", "minutos", "min", "days", "day", "weeks", "months",
    "years", "hours", "minutes", "am", "pm", "pesos", "peso", "mxn", "usd", "dolares",
    "dollars", "porciento", "percent",
}
_CUES = {
    "quiero", "queria", "necesito", "ocupo", "requiero", "dame", "deme", "denme", "mandame",
    "mandeme", "manda", "envia", "enviame", "envien", "cotiza", "cotizar", "cotizame",
    "cotizacion", "comprar", "compro", "pedir", "pido", "surtir", "surte", "apartar", "aparta",
    "cantidad", "cant", "qty", "quantity", "want", "need", "buy", "get", "son", "serian",
    "seran",
}
_CUE_FILLERS = {"unas", "unos", "como", "solo", "solamente", "aproximadamente", "about",
                "around", "just", "only", "de"}
_MAX_QUANTITY = 1_000_000

_QTY_TOKEN_RE = re.compile(r"[0-9]{1,3}(?:[.,][0-9]{3})+(?![0-9])|[0-9]+|[a-z]+|[^\sa-z0-9]")


class _Tok(NamedTuple):
    text: str
    start: int
    end: int


def _words_to_number(words: list[str]) -> int | None:
    total, current, seen = 0, 0, False
    for word in words:
        if word in _CONNECTORS:
            continue
        if word in _NUMBER_WORDS:
            current += _NUMBER_WORDS[word]
            seen = True
        elif word in _SCALES:
            current = (current or 1) * _SCALES[word]
            if word == "mil" or word == "thousand":
                total += current
                current = 0
            seen = True
        else:
            return None
    return total + current if seen else None


def _is_alpha(tok: _Tok) -> bool:
    return tok.text[0].isalpha()


def _is_digit(tok: _Tok) -> bool:
    return tok.text[0].isdigit()


# (value, start, end, strong): strong = self-evidently a count ("x3", "10pzas", "una docena").
_Candidate = tuple[int, int, int, bool]
_Step = tuple[Optional[_Candidate], int]  # what was read at a token (or None), and the next token


def _times_at(toks: list[_Tok], i: int) -> Optional[_Step]:
    """ "x3" / "x 3" at token i, else None."""
    n, tok = len(toks), toks[i]
    if tok.text == "x" and i + 1 < n and _is_digit(toks[i + 1]) and (
        i == 0 or toks[i - 1].end < tok.start or not _is_digit(toks[i - 1])
    ) and toks[i + 1].start - tok.end <= 1 and (
        i + 2 >= n or toks[i + 2].start > toks[i + 1].end or not _is_alpha(toks[i + 2])
    ):
        return (_digits_value(toks[i + 1].text), tok.start, toks[i + 1].end, True), i + 2
    return None


def _digits_value(text: str) -> int:
    """ "1,000" and "1.000" are a thousand: the separators Spanish and English write."""
    return int(re.sub(r"[.,]", "", text))


def _digits_at(toks: list[_Tok], i: int) -> _Step:
    """A number written in digits at token i: "5", "3x", "10pzas"; none in a model code ("cat6")."""
    n, tok = len(toks), toks[i]
    glued_before = i > 0 and toks[i - 1].end == tok.start and _is_alpha(toks[i - 1])
    nxt = toks[i + 1] if i + 1 < n else None
    glued_after = nxt is not None and nxt.start == tok.end and _is_alpha(nxt)
    value = _digits_value(tok.text)
    if glued_before:  # "cat6", "sg108": part of a model code
        return None, i + 1
    if glued_after and nxt is not None:
        if nxt.text == "x" and (i + 2 >= n or toks[i + 2].start > nxt.end):
            return (value, tok.start, nxt.end, True), i + 2  # "3x"
        if nxt.text in _UNITS:
            return (value, tok.start, nxt.end, True), i + 2  # "10pzas"
        return None, i + 2
    return (value, tok.start, tok.end, False), i + 1


def _starts_number_words(toks: list[_Tok], i: int) -> bool:
    text = toks[i].text
    return text in _NUMBER_WORDS or text in _SCALES or text in _MULTIPLIERS or (
        text in _HALF and i + 1 < len(toks) and toks[i + 1].text in _MULTIPLIERS
    )


def _number_words_at(toks: list[_Tok], i: int) -> _Step:
    """A number in words at token i: "veinticinco", "dos mil", "una docena", "media docena"."""
    n, tok = len(toks), toks[i]
    j = i
    words: list[str] = []
    while j < n and (
        toks[j].text in _NUMBER_WORDS
        or toks[j].text in _SCALES
        or (toks[j].text in _CONNECTORS and words and j + 1 < n
            and toks[j + 1].text in _NUMBER_WORDS)
    ):
        words.append(toks[j].text)
        j += 1
    half = False
    if not words and tok.text in _HALF:
        half, j = True, j + 1
    value = _words_to_number(words) if words else 1
    if value is not None and j < n and toks[j].text in _MULTIPLIERS:
        mult = _MULTIPLIERS[toks[j].text]
        return ((mult // 2 if half else value * mult), tok.start, toks[j].end, True), j + 1
    if value is not None and words:
        return (value, tok.start, toks[j - 1].end, False), j
    return None, max(j, i + 1)


def _quantity_candidates(folded: str) -> Iterator[_Candidate]:
    """Yield (value, start, end, strong) for every number-like run; strong = self-evidently a count."""
    toks = [_Tok(m.group(0), m.start(), m.end()) for m in _QTY_TOKEN_RE.finditer(folded)]
    i = 0
    while i < len(toks):
        step = _times_at(toks, i)
        if step is None:
            if _is_digit(toks[i]):
                step = _digits_at(toks, i)
            elif _starts_number_words(toks, i):
                step = _number_words_at(toks, i)
            else:
                step = (None, i + 1)
        candidate, i = step
        if candidate is not None:
            yield candidate


def _alnum_words(folded: str) -> list[_Tok]:
    return [_Tok(m.group(0), m.start(), m.end()) for m in re.finditer(r"[a-z0-9]+", folded)]


def find_quantity_spans(
    text: str, exclude: Iterable[tuple[int, int]] | None = None
) -> list[Span]:
    """Item counts in the text ("5 piezas", "una docena", "x3") as digit strings with spans.

    A bare number counts only when it is the whole message, follows a request verb ("quiero 5")
    or precedes a unit or product noun ("5 toner"); numbers inside order/ticket ids (or the
    `exclude` spans) and measures ("8 puertos", "3 dias", "$500") never count.
    """
    if not text:
        return []
    folded = fold(text)
    if exclude is None:
        exclude = [(s.start, s.end) for s in find_order_id_spans(text) + find_ticket_id_spans(text)]
    taken = list(exclude)
    words = _alnum_words(folded)
    word_starts = [w.start for w in words]
    word_ends = [w.end for w in words]
    spans: list[Span] = []
    for value, start, end, strong in _quantity_candidates(folded):
        if not 0 < value <= _MAX_QUANTITY:
            continue
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            continue
        n_before = bisect.bisect_right(word_ends, start)
        first_after = bisect.bisect_left(word_starts, end)
        next_word = words[first_after].text if first_after < len(words) else None
        if not strong:
            tail = folded[end:end + 2].lstrip()
            if next_word in _NOT_COUNT or tail.startswith("%") or folded[:start].rstrip().endswith("$"):
                continue
            weak = folded[start:end] in _WEAK
            unit_after = next_word in _UNITS or next_word in _PRODUCT_NOUNS
            whole = n_before == 0 and first_after == len(words)
            prev = [w.text for w in words[max(0, n_before - 3):n_before]]
            while prev and prev[-1] in _CUE_FILLERS:
                prev.pop()
            cue = bool(prev) and prev[-1] in _CUES
            if not (unit_after or whole or (cue and not weak)):
                continue
        spans.append(Span(str(value), start, end))
    return spans


def find_quantity(text: str) -> int | None:
    """First item count in the text ("5 piezas", "cinco", "una docena", "x3"), else None."""
    spans = find_quantity_spans(text)
    return int(spans[0].value) if spans else None


# Used by the order/ticket finders: "pedido 10234 y 10000 piezas" must not read 10000 as an id.
_UNIT_AFTER = re.compile(
    r"\s*(?:" + "|".join(sorted(_UNITS | _PRODUCT_NOUNS, key=len, reverse=True)) + r")\b"
)


# --------------------------------------------------------------------------- branches

# Real words one typo away from an alias; never read them as a branch.
_FUZZY_BLOCKLIST = {"pueblo", "pueble", "pueblan", "pueblas", "medida", "herida"}
_FUZZY_MIN_LEN = 6
_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def _alias_key(alias: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", fold(alias).replace(".", "")))


@functools.lru_cache(maxsize=1)
def _branch_aliases() -> dict[str, str]:
    """Folded alias (words joined by one space, dots removed) -> branch id."""
    aliases: dict[str, str] = {}
    for branch_id_, data in BRANCHES.items():
        for alias in [branch_id_, data["name"], *data.get("aliases", [])]:
            key = _alias_key(alias)
            if key:
                aliases.setdefault(key, branch_id_)
    return aliases


@functools.lru_cache(maxsize=1)
def _branch_exact_re() -> re.Pattern[str]:
    spellings = {fold(a) for bid, data in BRANCHES.items()
                 for a in [bid, data["name"], *data.get("aliases", [])]}
    parts = [re.escape(a).replace(r"\ ", r"\s+") for a in sorted(spellings, key=len, reverse=True)]
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(parts) + r")(?![a-z0-9])")


def _edits1(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    transposes = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    inserts = {a + c + b for a, b in splits for c in _ALPHABET}
    return deletes | transposes | replaces | inserts


@functools.lru_cache(maxsize=1)
def _fuzzy_words() -> dict[str, set[str]]:
    """Typo variant -> alias words (6+ letters) it is one edit away from."""
    variants: dict[str, set[str]] = {}
    for key in _branch_aliases():
        for word in key.split(" "):
            if len(word) >= _FUZZY_MIN_LEN and word.isalpha():
                for variant in _edits1(word) - {word}:
                    if variant not in _FUZZY_BLOCKLIST:
                        variants.setdefault(variant, set()).add(word)
    return variants


@functools.lru_cache(maxsize=1)
def _alias_first_words() -> frozenset[str]:
    return frozenset(key.split(" ")[0] for key in _branch_aliases() if " " in key)


def _word_matches(typed: str, alias_word: str, fuzzy_budget: int) -> int | None:
    """Edits spent matching typed to alias_word (0 or 1), or None if it does not match."""
    if typed == alias_word:
        return 0
    if fuzzy_budget and alias_word in _fuzzy_words().get(typed, ()):
        return 1
    return None


def find_branch_spans(text: str) -> list[Span]:
    """Branch ids mentioned in free text (exact aliases first, then one-typo matches)."""
    if not text:
        return []
    folded = fold(text)
    spans = [Span(_branch_aliases()[_alias_key(m.group(0))], m.start(), m.end())
             for m in _branch_exact_re().finditer(folded)]
    taken = [(s.start, s.end) for s in spans]
    words = [_Tok(m.group(0), m.start(), m.end()) for m in re.finditer(r"[a-z0-9]+", folded)]
    fuzzy = _fuzzy_words()
    first_words = _alias_first_words()
    for i, word in enumerate(words):
        if (word.text not in fuzzy and word.text not in first_words) or any(
            s <= word.start < e for s, e in taken
        ):
            continue
        for key, bid in _branch_aliases().items():
            alias_words = key.split(" ")
            window = words[i: i + len(alias_words)]
            if len(window) < len(alias_words):
                continue
            # only whitespace between the words of a multi-word alias
            if any(folded[a.end:b.start].strip() for a, b in zip(window, window[1:])):
                continue
            budget, ok = 1, True
            for typed, alias_word in zip(window, alias_words):
                spent = _word_matches(typed.text, alias_word, budget)
                if spent is None:
                    ok = False
                    break
                budget -= spent
            if ok and budget == 0:
                spans.append(Span(bid, window[0].start, window[-1].end))
                taken.append((window[0].start, window[-1].end))
                break
    spans.sort(key=lambda s: s.start)
    return _dedupe(spans)


def branch_id(text: str | None) -> str | None:
    """Branch id ("mty") for a branch name, alias or id in the text, typo-tolerant; else None."""
    if not text or not isinstance(text, str):
        return None
    exact = _branch_aliases().get(_alias_key(text))
    if exact:
        return exact
    spans = find_branch_spans(text)
    return spans[0].value if spans else None


# --------------------------------------------------------------------------- SKUs


def _sku_key(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", fold(text).upper())


@functools.lru_cache(maxsize=1)
def _sku_index() -> dict[str, str]:
    return {_sku_key(sku): sku for sku, *_ in PRODUCTS}


def normalise_sku(text: str | None) -> str | None:
    """Catalogue SKU for a value typed with any case, spaces or dashes ("tl sg108" -> "TL-SG108")."""
    if not text or not isinstance(text, str) or len(text) > _MAX_VALUE_LEN:
        return None
    value = fold(text).strip(_STRIP_CHARS)
    # only spaces, dashes, dots and underscores may be dropped, not arbitrary symbols
    if re.search(r"[^\w\s\-\u2010-\u2015.]", value):
        return None
    key = _sku_key(value)
    return _sku_index().get(key)


def sku_variants(sku: str) -> list[str]:
    """Lowercase spellings people use for a SKU ("cf258a", "cf 258a", "cf-258a").

    Separators ("", " ", "-") are tried at every dash and every letter/digit boundary; used to
    build the NLU EntityRuler phrase patterns.
    """
    first, *rest = [chunk.lower() for chunk in re.findall(r"[A-Za-z]+|[0-9]+", sku)]
    variants = {first}
    for chunk in rest:
        variants = {v + sep + chunk for v in variants for sep in ("", " ", "-")}
    return sorted(variants)
