"""Recall-first rules by position, not by name list (ADR 0123).

Each unseen evaluation set came in 3-5 points below the sets the rules were developed on. A
surrogate-swap check (every annotated span not from the note's record replaced by a surface
of the same type from another set, its case style kept) showed one reason: many rules
caught a name or a site because its words were in a name list, and the same slot with other
words was missed. The rules here decide by the slot and by the shape of the words (no
function, clinical or common word; ``is_word`` says a word is ordinary or clinical
vocabulary):

- ``titled_any_case``: the words after a personal title in any case ("Dr. kaminski-oyelowo",
  "DR EFUA QUAYE", "mrs. edith blackwood", "dr ng");
- ``capitals_surname_given``: "FAMILY, GIVEN [M]" in capitals after a patient's slot or on a
  line with demographics ("BED 4 -- OYELARAN, TEMI  MRN ...");
- ``addressed_names``: the name a message opens with or thanks ("thx tanisha greer",
  "Hi OKONJO, CHIOMA", "ok ty marisol");
- ``names_before_age_sex``: the words of a row or list item before an age and sex
  ("0244  hollingsworth  51M", "Rm 630  Kirrily JACKAMARRA  58M");
- ``signatures_at_line_end``: a name in capitals or lower case after a dash or slash that
  ends its line ("-LACHLAN BIRRELL", "/ EZE-FAIRBROTHER");
- ``sites_after_care_verbs``: a capitalised phrase or an acronym after a care verb and its
  preposition ("seen at Harrow Fields", "managed at the RVI", "transfer via SWASFT"), not a
  department or unit ("referred to Cardiology", "admitted to ICU").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache

import regex  # type: ignore[import-untyped]

from clinflow.deid.text.lexicon import (
    common_words,
    is_english_word,
    is_name,
    noun_only_words,
    safe_words,
)
from clinflow.deid.text.names import never_after_cue
from clinflow.deid.text.recognizers import TIME_AFTER_DATE

Spans = list[tuple[int, int]]

_WORD = regex.compile(r"\p{L}[\p{L}'’-]*\p{L}|\p{L}", regex.V0)
_GAP = regex.compile(r"[ \t]{1,2}|\.[ \t]{1,2}", regex.V0)

# a personal title as written: mixed or lower case with or without a period; in capitals
# only the ones that are no abbreviation (DR, MRS, PROF) or with a period (MR., MS.)
_TITLE = regex.compile(
    r"(?<![\p{L}\d'’.-])(?:(?:Dr|Drs|Mr|Mrs|Ms|Mx|Miss|Prof|dr|drs|mr|mrs|ms|prof)\.?"
    # French titles and clergy ("Mme. Thibodeau", "chaplain rev. hollis"), "rev" with its dot
    r"|(?:Mme|Mlle|Rev|Revd|Pastor)\b\.?|mme\.|(?<=\bchaplain[ \t]{1,2})(?:rev|revd|fr)\.?"
    # police and security ranks ("Sgt. Ochoa", "security (sgt. ochoa)")
    r"|(?:Sgt|SGT|Cpl)\b\.?|(?:sgt|cpl)\."
    r"|(?:DR|DRS|MRS|PROF)\b\.?|(?:MR|MS|MX)\.)[ \t]{1,2}",
    regex.V0,
)


_PARTICLES = frozenset(
    "bin binte binti bint ibn abu al el ap ab van von der den de del della di da dos du le la "
    "mac mc ter ten y e st".split()
)


@lru_cache(maxsize=1)
def _common_not_names() -> frozenset[str]:
    return frozenset(w for w in common_words() if not is_name(w))


def first_name_word(word: str) -> bool:
    """Right after a title any word is a name but a function, clinical or calendar word and
    a common English word that is no name ("Dr. frank", "dr ng"; not "Dr. office")."""
    key = word.casefold()
    if key in never_after_cue() or key in _CREDENTIALS:
        return False
    return is_name(word) or key not in _common_not_names()


def next_name_word(word: str) -> bool:
    """A word that continues a name already begun: a listed name, a word that is no English,
    or a rare English word that has no verb, adverb or plural ending ("blackwood")."""
    key = word.casefold()
    if key in never_after_cue() or key in _CREDENTIALS:
        return False
    if is_name(word) or not is_english_word(word):
        return True
    return key not in safe_words() and len(key) >= 6 and not key.endswith(_WORD_ENDINGS)


def strict_name_word(word: str) -> bool:
    """A listed name or a word that is no English (and no function or clinical word)."""
    key = word.casefold()
    if key in never_after_cue() or key in _CREDENTIALS:
        return False
    return is_name(word) or not is_english_word(word)


_WORD_ENDINGS = ("ed", "ing", "ly", "s", "tion", "ment", "ness", "ity", "ive", "al", "ous")


def _words_after(
    text: str,
    at: int,
    first: Callable[[str], bool],
    following: Callable[[str], bool] | None = None,
    limit: int = 3,
) -> tuple[int, int] | None:
    """The run of up to ``limit`` name words from ``at`` (``first`` says whether the first
    word is one, ``following`` the others; a particle counts when a name word follows it),
    joined by one or two spaces or an initial's period; None if there is none."""
    following = following or first
    end = None
    position = at
    count = 0
    while count < limit:
        match = _WORD.match(text, position)
        if match is None:
            break
        word = match.group()
        initial = len(word) == 1 and text.startswith(".", match.end())
        if not initial:
            if count and word.casefold() in _PARTICLES:
                gap = _GAP.match(text, match.end())
                after = _WORD.match(text, gap.end()) if gap is not None else None
                if after is None or not following(after.group()):
                    break
            elif len(word) == 1 or not (following if count else first)(word):
                break
        end = match.end()
        count += 1
        gap = _GAP.match(text, end)
        if gap is None:
            break
        position = gap.end()
    if end is None:
        return None
    # a name is not only initials ("Dr. J." alone stays: the title rule of names.py takes it)
    if all(len(w) == 1 for w in _WORD.findall(text[at:end])):
        return None
    return (at, end)


def titled_any_case(text: str) -> Spans:
    """Words after a personal title in any case: the first any word but a function,
    clinical or common one, the next ones name-shaped (``next_name_word``)."""
    out: Spans = []
    for match in _TITLE.finditer(text):
        span = _words_after(text, match.end(), first_name_word, next_name_word)
        if span is not None:
            out.append(span)
    return out


_CAPITALS_PAIR = regex.compile(
    r"(?<![\p{L}\d'’-])(?P<family>\p{Lu}[\p{Lu}'’-]+(?:[ \t]\p{Lu}[\p{Lu}'’-]+){0,2}),[ \t]{1,2}"
    r"(?P<given>\p{Lu}[\p{Lu}'’-]+(?:[ \t]\p{Lu}[\p{Lu}'’-]+)?(?:[ \t]\p{Lu}\.?)?"
    # or the given name's initial alone, as bed boards write it: "KOWAL, H  hip fx"
    r"|\p{Lu}\.?(?=[ \t]+(?!\d)|[,;)]|$))"
    r"(?![\p{L}\d'’-])",
    regex.V0 | regex.M,
)
_DEMOGRAPHICS = regex.compile(
    r"\b(?:MRN|DOB|D\.O\.B|NHS|Hosp(?:ital)?[ \t]?No|UR[ \t]?No|URN)\b"
    r"|(?<![\d.,/-])\d{1,3}[ \t]?(?:yo|y/o|yrs?|mo|[MF])\b",
    regex.V0,
)
# the pair right after a patient's slot: "Pt:", "Name -", "BED 12 --", "Re:"
_SLOT_BEFORE = regex.compile(
    r"(?:\b(?i:pt|patient|name|re|client|resident)|\b(?i:bed|rm|room|hall|bay)[ \t]*\d+[A-Z]?"
    # a bed board's line: the room or bed number first ("701A  KOWAL, H", " 4 EL-SAYED, R")
    r"|(?:^|(?<=\n))[ \t]*\d{1,4}[A-Za-d]?)"
    r"[ \t]*[:.\-–—]{0,2}[ \t]*\Z",
    regex.V0,
)


_VOWEL = regex.compile(r"[AEIOUYÀ-ÖØ-Ý]", regex.V0)
_CREDENTIALS = frozenset(
    "md do rn np pa phd mbbs mbchb cnm crna lpn licsw lcsw msw pharmd dpm dds dmd facp facc "
    "facs mph aprn anp fnp cns bsn msn rd dpt slp rrt cna otr frcp frcs fracp mrcp mrcgp "
    "frcr franzcog facog faap fcap frcpc ccm ocn rpsgt ccsh dnp achpn esq jr sr ii iii iv".split()
)


def _name_part(word: str, is_word: Callable[[str], bool]) -> bool:
    """A part of a name in capitals: three letters or more with a vowel, no credential and
    no clinical abbreviation ("HTN", "MOLST" have the shape of a word, not of a name)."""
    return (
        len(word) >= 3
        and _VOWEL.search(word) is not None
        and word.casefold() not in _CREDENTIALS
        and not (len(word) <= 5 and is_word(word))
    )


def _capitals_name(words: list[str], is_word: Callable[[str], bool]) -> bool:
    names = words[:-1] if len(words[-1]) == 1 else words
    return all(_name_part(w, is_word) for w in names) and not all(is_word(w) for w in names)


def capitals_surname_given(text: str, is_word: Callable[[str], bool]) -> Spans:
    """"FAMILY, GIVEN" in capitals on a line that names a patient's demographics (MRN, DOB,
    bed, "34F"), each part shaped like a name and not both ordinary words."""
    out: Spans = []
    for match in _CAPITALS_PAIR.finditer(text):
        if not _capitals_name(_WORD.findall(match.group()), is_word):
            continue
        if len(match.group("given").rstrip(".")) == 1 and len(match.group("family")) < 4:
            continue  # "AMS, T 38.9", "58 YRS, M": an initial needs a family name to go with
        line_start = text.rfind("\n", 0, match.start()) + 1
        line_end = text.find("\n", match.end())
        line = text[line_start : len(text) if line_end < 0 else line_end]
        if text[match.start() - 1 : match.start()] == "/":
            continue  # "DNR/DNI, MOLST"
        if _DEMOGRAPHICS.search(line) or _SLOT_BEFORE.search(text, line_start, match.start()):
            out.append(match.span())
    return out


# a greeting or thanks opening a message, a line or a sentence (not "says hi", not the
# state "HI")
_ADDRESS = regex.compile(
    r"(?:^|(?<=[\n.!?:\]>)])|\b(?i:ok|okay|and))[ \t]*"
    r"(?P<cue>(?i:thanks|thank[ \t]+(?:you|u)|thx|thnx|ty|tyvm|hiya|hey|hello|cheers|"
    r"good[ \t]+(?:morning|evening|afternoon))|[Hh]i)[ \t]*,?[ \t]{1,2}",
    regex.V0 | regex.M,
)


def addressed_names(text: str, is_word: Callable[[str], bool]) -> Spans:
    """The name after a greeting or thanks in a message: any case, not ordinary words."""
    out: Spans = []
    for match in _ADDRESS.finditer(text):
        at = match.end()
        pair = _CAPITALS_PAIR.match(text, at)
        if pair is not None and _capitals_name(_WORD.findall(pair.group()), is_word):
            out.append(pair.span())
            continue
        span = _words_after(text, at, lambda w: not is_word(w), next_name_word, limit=2)
        if span is not None and span[1] - span[0] >= 3:
            out.append(span)
    return out


_CARE_VERB = regex.compile(
    r"(?<![\p{L}'’-])(?i:seen|managed|treated|admitted|transferred|transfer|referred|"
    r"referral|booked|followed[ \t]up|followed|attends|attended|delivered|conveyed|"
    r"discharged|placed|placement|physio|appt|appointment|imaged|"
    r"lives|living|resides|residing|rehab|respite|onward|repatriated|retrieved|bed|"
    r"dialyses|dialysis|collected|dispensed|filled)[ \t]+(?P<by>(?i:at|to|from|in|via|with|by))"
    r"[ \t]+(?:(?i:the)[ \t]+)?",
    regex.V0,
)
# "at" after any word: only a phrase of two capitalised words or more counts there
_AT_ANY_WORD = regex.compile(
    r"(?<=\p{Ll}[ \t])(?:at|@)[ \t]+(?:the[ \t]+)?(?=\p{Lu}[\p{L}'’-]*[ \t]+(?:of[ \t]+)?\p{Lu})",
    regex.V0,
)
_PHRASE_WORD = regex.compile(
    r"(?:\p{Lu}[\p{L}'’-]*\p{L}|\p{Lu})(?![\p{L}\d])|\d{1,3}[A-Z]?(?![\p{L}\d/:.-])",
    regex.V0,
)
_PHRASE_JOIN = regex.compile(r"[ \t](?:(?:of|the|and|&|on|upon)[ \t])?", regex.V0)
_ACRONYM = regex.compile(r"\p{Lu}{2,6}", regex.V0)
_MONTHS_DAYS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday "
    "friday saturday sunday mon tue tues wed thu thur thurs fri sat sun".split()
)


def _phrase(text: str, at: int) -> Iterator[tuple[int, str]]:
    """Capitalised words (and a trailing number: "Clinic 7") joined from ``at``."""
    position = at
    for _ in range(5):
        match = _PHRASE_WORD.match(text, position)
        if match is None:
            return
        yield match.end(), match.group()
        join = _PHRASE_JOIN.match(text, match.end())
        if join is None:
            return
        position = join.end()


def sites_after_care_verbs(
    text: str, is_word: Callable[[str], bool], is_clinical: Callable[[str], bool]
) -> Spans:
    """A care site named after a care verb and its preposition: a capitalised phrase with a
    word that is no clinical word (one word alone must be no ordinary word either), or an
    acronym that is no clinical abbreviation."""
    out: Spans = []
    matches = [(m, False) for m in _CARE_VERB.finditer(text)]
    matches += [(m, True) for m in _AT_ANY_WORD.finditer(text)]
    for match, phrase_only in matches:
        at = match.end()
        line_start = text.rfind("\n", 0, at) + 1
        line_end = text.find("\n", at)
        line = text[line_start : len(text) if line_end < 0 else line_end]
        if not any(c.islower() for c in line):
            continue  # a note typed in capitals: every phrase is capitalised
        by_whom = match["by"].casefold() in ("by", "with") if not phrase_only else False
        # "referred to the CTLD": a team is referred to by its acronym more than a site
        referred = match.group().casefold().startswith("referr")
        words = list(_phrase(text, at))
        while words and not words[-1][1][0].isalpha():
            words.pop()  # a number alone ends no phrase ("seen at 10")
        if not words:
            continue
        letters = [w for _, w in words if w[0].isalpha()]
        if letters[0].casefold() in _MONTHS_DAYS:
            continue
        if len(letters) > 1 and is_clinical(letters[0]):
            continue  # "seen in ED Rivera was stable": a unit, then a name
        if len(letters) == 1 and phrase_only:
            continue  # after "at" alone only a phrase ("a teacher at Smile Bright Kids")
        if len(letters) == 1:
            word = letters[0]
            if _ACRONYM.fullmatch(word):
                # "reviewed by FME", "with CTLD": a role or a team, not a site
                if by_whom or referred or is_clinical(word) or is_word(word) or len(word) < 3:
                    continue
            elif is_word(word) or is_clinical(word):
                continue
        elif all(is_clinical(w) for w in letters):
            continue  # "Acute Medical Unit", "Memory Clinic"
        out.append((at, words[-1][0]))
    return out


# an age and sex right after a name in a row or a list: "0244  hollingsworth  51M  ESI 4",
# "Rm 630  Kirrily JACKAMARRA  58M", "5. Tane Rewiti, 44 y M"
_AGE_SEX = regex.compile(
    r"(?<![\p{L}\d/.-])\d{1,3}[ \t]?(?:(?:yo|y/o|y|yrs?|mo)[ \t]?)?[MFmf](?![\p{L}\d])",
    regex.V0,
)
_ROW_PREFIX = regex.compile(
    r"(?:[ \t]*(?:(?i:rm|room|bed|bay|pt)[ \t]*#?[ \t]*\d*[A-Za-z]?|\d{1,4}[a-z]?[.):]?"
    r"|[-–—*•#|:]+)[ \t]+)*",
    regex.V0,
)
_NAME_BEFORE_AGE = regex.compile(
    r"(?P<name>\p{L}[\p{L}'’.-]*(?:(?:[ \t]{1,2}|,[ \t]{1,2})\p{L}[\p{L}'’.-]*){0,3})"
    r"[ \t]*,?[ \t]{1,3}\Z",
    regex.V0,
)


def names_before_age_sex(text: str) -> Spans:
    """The words between a row's start (after a time, room or bed) or a separator and an
    age+sex ("51M", "44 y F"), when every one is a listed name or no English word."""
    out: Spans = []
    for match in _AGE_SEX.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        cut = line_start
        for sep in ("|", ":", "(", "--"):
            found_at = text.rfind(sep, line_start, match.start())
            if found_at >= 0:
                cut = max(cut, found_at + len(sep))
        prefix = _ROW_PREFIX.match(text, cut)
        start = prefix.end() if prefix is not None else cut
        found = _NAME_BEFORE_AGE.search(text, start, match.start())
        if found is None or found.start() != start:
            continue
        words = [w for w in _WORD.findall(found["name"]) if len(w) > 1]
        if not words or not all(strict_name_word(w) for w in words):
            continue
        out.append(found.span("name"))
    return out


# a patient's label and its colon, in any case: "pt: ezekiel moon   mrn ...", "Name: ..."
_PATIENT_LABEL = regex.compile(
    r"(?<![\p{L}\d])(?i:pt|patient|pt\.?[ \t]name|patient[ \t]name|name|resident|client|"
    r"employee|member|subscriber|insured|student|claimant|guarantor)"
    r"[ \t]?:[ \t]{0,3}(?=\p{L})",
    regex.V0,
)


def names_after_patient_label(text: str) -> Spans:
    """The name after a patient's label in any case ("pt: ezekiel moon"): two or three words,
    the first no function, clinical or common non-name word, the others name-like (not
    "Patient: stable overnight", "pt: afebrile, comfortable")."""
    out: Spans = []
    for match in _PATIENT_LABEL.finditer(text):
        found = _words_after(text, match.end(), first_name_word, next_name_word)
        if found is not None and len(_WORD.findall(text[found[0] : found[1]])) >= 2:
            out.append(found)
    return out


# a person named in brackets after a service, role or sitter, in lower case: "vanc per pharm
# (berrigan)", "id (ozturk-lindahl) plans", "1:1 sitter (rosalind on now)"
_ROLE_THEN_BRACKET = regex.compile(
    r"(?i:\b(?:pharm|pharmacy|id|renal|nephro|cards|gi|pulm|neuro|psych|ortho|surg|onc|heme|"
    r"endo|sitter|sw|cm|pt|ot|slp|rt|rn|nurse|charge|attending|fellow|resident|intern|np|pa|"
    r"md|dr))[ \t]?\((?=\p{Ll})",
    regex.V0,
)


def names_in_brackets_after_roles(text: str) -> Spans:
    """A lower-case name opening the brackets after a service or role ("pharm (berrigan)"),
    when it is a listed name or no English word, with a second such word if one follows."""
    out: Spans = []
    for match in _ROLE_THEN_BRACKET.finditer(text):
        found = _words_after(text, match.end(), credential_name_word, credential_name_word, 2)
        if found is not None:
            out.append(found)
    return out


# a signature at the end of a line after a dash or a slash, in capitals or lower case:
# "-- marcus bell md", "-LACHLAN BIRRELL", "Rosen, DO / EZE-FAIRBROTHER"
# a dash that opens its line or follows a sentence ("Plan agreed. -NAME"; not a heading's
# "VISIT - TELEPHONE"), or a slash spaced from a word ("MD / NAME"; not "DNR/DNI")
_SIGNATURE_MARK = regex.compile(
    r"(?:^[ \t]*|(?<=[.!][ \t]{1,2}))(?:--?|—|–|~)[ \t]?(?=\p{L})"
    r"|(?<=[\w)][ \t]{1,2})/[ \t]?(?=\p{L})|(?<=[\w)])/[ \t](?=\p{L})",
    regex.V0 | regex.M,
)
_LINE_END_AFTER = regex.compile(
    r"[ \t]*(?:,?[ \t]*(?i:md|do|rn|np|pa|pa-c|lpn|cna|rd|slp|pt|ot|dn|hca|sw|msw|lcsw|licsw)"
    r"\b[^\n]{0,40})?[ \t]*(?:\n|\Z)",
    regex.V0,
)


def signatures_at_line_end(text: str) -> Spans:
    """One to three name-shaped words (not mixed case: the rules of names.py read those)
    after a dash or slash that end their line, or are followed only by a credential."""
    out: Spans = []
    for match in _SIGNATURE_MARK.finditer(text):
        span = _words_after(text, match.end(), strict_name_word, strict_name_word)
        if span is None:
            continue
        surface = text[span[0] : span[1]]
        if not (surface.islower() or surface.isupper()):
            continue
        if _LINE_END_AFTER.match(text, span[1]) is None:
            continue
        out.append(span)
    return out


# ----- a fraction that is a score or a duration, not a date -------------------------------

_FRACTION = regex.compile(r"(\d{1,2})/(\d{1,2})", regex.V0)
# a score's or a scale's word just before ("pain 7/10", "Apgars 8/9", "MoCA 26/30",
# "strength 4/5", "energy 6/10", "vision 6/9", "day 4/7" of a course, "CGA 29 2/7")
_SCORE_BEFORE = regex.compile(
    r"(?<![\p{L}\d/-])(?i:pain|score[sd]?|scale|mood|energy|anxiety|fatigue|nausea|strength|"
    r"power|grade|apgars?|moca|mmse|ace-?iii|4at|gcs|iadl|adl|bpp|naming|recall|vision|va|"
    r"acuity|rated|rates|maybe|c/o[ \t]+\w+|cp|sob|monofilament|brim|day|cycle|"
    r"(?:ga|cga|gestation|pog)(?:[ \t]+\d{2})?|\d{2}[ \t]?(?:w|wk|wks))"
    r"[ \t]*[:=(]?[ \t]*(?:(?:at|of|is|was|now|today)[ \t]+)?(?:~|approx\.?[ \t]*)?\Z",
    regex.V0,
)
# a duration written the British way or a count after it ("7/7", "2/52", "in last 3/12",
# "ran out 3/7 ago", "pT2 pN1a (2/14)" nodes)
_DURATION_BEFORE = regex.compile(
    r"(?i:\b(?:for|x|over|within|last|past|next|in|bd|tds|qds|od|om|on|nocte|daily|ago|"
    r"dysuria|cough|fever|diarrh(?:o)?ea|vomiting|symptoms|hx|history))[ \t]*\(?[ \t]*\Z",
    regex.V0,
)
_DURATION_AFTER = regex.compile(r"[ \t]*(?i:ago|hx|history|wks?\b|weeks?\b|duration)", regex.V0)


_TIME_AFTER = regex.compile(TIME_AFTER_DATE, regex.V0)


# how a note writes its dates: month first with a day past 12 ("7/15", "4/19/85"), or day
# first with a day past 12 ("15/07", "19/04/2085")
_MONTH_FIRST = regex.compile(
    r"(?<![\d/.:-])(?:1[0-2]|0?[1-9])/(?:1[3-9]|2\d|3[01])(?![\d])", regex.V0
)
_DAY_FIRST = regex.compile(
    r"(?<![\d/.:-])(?:1[3-9]|2\d|3[01])/(?:1[0-2]|0?[1-9])(?![\d])", regex.V0
)


@lru_cache(maxsize=4)  # asked once per bare "a/12" of the same note: search it once
def _us_month_day_note(text: str) -> bool:
    """The note writes month/day (a "7/15" and no "15/07"): British durations ("in 3/12",
    "next 2/7") are then no habit of its writer, and such a pair is a date."""
    return _MONTH_FIRST.search(text) is not None and _DAY_FIRST.search(text) is None


def score_or_duration(text: str, start: int, end: int) -> bool:
    """``text[start:end]`` is a bare "a/b" that reads as a score ("pain 7/10", "4/5 power")
    or a British duration ("7/7", "2/52", "3/12 ago"), not a month and day."""
    match = _FRACTION.fullmatch(text, start, end)
    if match is None:
        return False
    if _TIME_AFTER.match(text, end) is not None:
        return False  # "last pain 11/17 0300": a score has no time of day after it
    a, b = int(match[1]), int(match[2])
    before = text[max(0, start - 32) : start]
    if a <= b and _SCORE_BEFORE.search(before) is not None:
        return True
    if b in (7, 52, 12) and a <= b:
        if _DURATION_AFTER.match(text, end) is not None:
            return True
        if b != 52 and _us_month_day_note(text):
            return False  # "next 8/12" in a note that writes "7/15": a date, as written there
        # "within 1/52", "over 3/7": a duration word before; but "on 4/7" is a date
        cue = _DURATION_BEFORE.search(before)
        return cue is not None and cue.group().strip().casefold().rstrip("(").strip() != "on"
    return False


# ----- a day and a month named in another language ------------------------------------------

# months in Spanish, Portuguese, French, Italian, German, Dutch, Tagalog and Indonesian/Malay
# that are not spelt as in English (short or ambiguous forms left out: "mac", "set", "out")
_FOREIGN_MONTHS = (
    r"(?:enero|febrero|marzo|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|"
    r"diciembre|janeiro|fevereiro|março|maio|junho|julho|setembro|outubro|novembro|"
    r"dezembro|janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|"
    r"octobre|novembre|décembre|decembre|gennaio|febbraio|aprile|maggio|giugno|luglio|"
    r"settembre|ottobre|dicembre|januar|jänner|februar|märz|maerz|oktober|dezember|januari|"
    r"februari|maart|mei|augustus|pebrero|marso|abril|hunyo|hulyo|setyembre|oktubre|"
    r"nobyembre|disyembre|maret|juni|juli|julai|agustus|ogos|desember|disember)"
)
# before its day only the ones that are no given name as well ("Mayo 2", "Abril 5" may be
# a person and a number)
_FOREIGN_MONTHS_FIRST = (
    r"(?:enero|febrero|marzo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|"
    r"diciembre|janeiro|fevereiro|março|junho|julho|setembro|outubro|novembro|dezembro|"
    r"janvier|février|fevrier|juillet|août|septembre|octobre|novembre|décembre|gennaio|"
    r"febbraio|maggio|giugno|luglio|settembre|ottobre|dicembre|januar|februar|märz|oktober|"
    r"dezember|januari|februari|maart|augustus|pebrero|marso|hunyo|hulyo|setyembre|oktubre|"
    r"nobyembre|disyembre|agustus|ogos|desember|disember)"
)
_MONTH_WORDS = frozenset(regex.findall(r"[^\W\d_]+", _FOREIGN_MONTHS[3:-1]))
_MONTH_FIRST_WORDS = frozenset(regex.findall(r"[^\W\d_]+", _FOREIGN_MONTHS_FIRST[3:-1]))
_LETTERS = regex.compile(r"(?<![\d])\p{L}+(?![\d])", regex.V0)
_DAY_BEFORE = regex.compile(
    r"(?<![\d/.-])(?:ika-?)?(?:3[01]|[12]\d|0?[1-9])(?:\.|º|er)?[ \t]{0,2}"
    r"(?:(?i:de|del|di|ng)[ \t]+)?\Z",
    regex.V0,
)
_YEAR_AFTER = regex.compile(
    r"\.?(?:,?[ \t]+(?:(?i:de|del)[ \t]+)?(?:\d{4}|['’]\d{2}))?(?![\p{L}\d])", regex.V0
)
_DAY_OR_YEAR_AFTER = regex.compile(
    # (a full stop after the day ends a sentence: "since agosto 8. Started"; "8.5" is no day)
    r"[ \t]+(?:(?:3[01]|[12]\d|0?[1-9])(?![\d:]|\.\d)(?:,?[ \t]+\d{4})?"
    r"|(?:(?i:de)[ \t]+)?\d{4})"
    r"(?![\p{L}\d])",
    regex.V0,
)


def foreign_month_dates(text: str) -> Spans:
    """A day and a month named in Spanish, Portuguese, French, Italian, German, Dutch,
    Tagalog or Indonesian/Malay, either order, the year optional ("12 Hunyo", "7. März
    2086", "3 de marzo", "21 maart", "Enero 5, 2085"), or the month and a four-digit year
    ("Hulyo 2084")."""
    out: Spans = []
    for word in _LETTERS.finditer(text):
        key = word.group().casefold()
        if key not in _MONTH_WORDS:
            continue
        day = _DAY_BEFORE.search(text, max(0, word.start() - 16), word.start())
        if day is not None:
            year = _YEAR_AFTER.match(text, word.end())
            if year is not None:
                out.append((day.start(), year.end()))
            continue
        if key in _MONTH_FIRST_WORDS:
            after = _DAY_OR_YEAR_AFTER.match(text, word.end())
            if after is not None:
                out.append((word.start(), after.end()))
            elif word.group().islower():
                # a month alone, in lower case as Spanish and the others write months
                # ("endocrino septiembre", "próximo Kt/V febrero"), not "Julio Pérez"
                out.append(word.span())
    out.extend(m.span() for m in _SLASHED_MONTH.finditer(text))
    return out


# a day, a month's abbreviation and a year between slashes, as logs and Spanish-language
# records write them, its weekday with it: "lunes 10/ene/2084", "23/nov/2085", "12/Jan/2088",
# "15/sep/93"; and a day before a Spanish month's own abbreviation: "la recoge 1 dic"
_SLASHED_MONTH = regex.compile(
    r"(?:\b(?i:lunes|martes|mi[eé]rcoles|jueves|viernes|s[aá]bado|domingo|mon|tue|wed|thu|fri|"
    r"sat|sun)[ \t]+)?(?<![\d/])(?:3[01]|[12]\d|0?[1-9])/(?i:ene|feb|mar|abr|apr|may|jun|jul|"
    r"ago|aug|sep|sept|set|oct|nov|dic|dec|jan)/(?:\d{4}|\d{2})(?![\d/])"
    r"|(?<![\d/.])(?:3[01]|[12]\d|0?[1-9])[ \t](?i:ene|abr|ago|dic)\b(?!\.?[ \t]*\d{1,2}\b)"
    # the month in Roman numerals, as Mexican and European forms write it: "02/IX/2064"
    r"|(?<![\d/])(?:3[01]|[12]\d|0?[1-9])[/.-](?:XII|XI|X|IX|VIII|VII|VI|V|IV|III|II|I)[/.-]"
    r"(?:\d{4}|\d{2})(?![\d/])",
    regex.V0,
)


# ----- a lower-case name before a lower-case credential -------------------------------------

_LOWER_CREDENTIAL = regex.compile(
    r"(?<=[\p{Ll}'’],?[ \t])(?:rn|md|np|pa|pa-c|do|lpn|lvn|cna|rd|slp|ot|rrt|crna|cnm|sw|msw|"
    r"lcsw|licsw|pharmd|dpt|hca|dn)(?=[ \t]*(?:[,.;:)/]|\n|\Z|[ \t]\d|[ \t]\(|[ \t](?:to|aware|"
    r"notified|updated|at|and|here|says|said|will|called|paged|informed)\b))",
    regex.V0,
)


def credential_name_word(word: str) -> bool:
    """Right before a credential: a listed name or no English word (not a function, common,
    clinical or calendar word, nor another credential)."""
    key = word.casefold()
    if key in _CREDENTIALS or key in _MONTHS_DAYS or not word.islower():
        return False
    if key in _function_words() or key in _clinical_words_only() or key in common_words():
        return False  # "can u page rrt": a common word ("page", "hope") is a verb there
    # (WordNet's proper nouns count: "strauss, md")
    return is_name(word) or not is_english_word(word) or key in noun_only_words()


def lowercase_names_before_credentials(text: str) -> Spans:
    """One to three lower-case name words right before a lower-case credential ("spoke w/
    frank rn", "-- marcus bell md, nocturnist"); the mixed-case shapes are names.py's."""
    out: Spans = []
    for match in _LOWER_CREDENTIAL.finditer(text):
        end = match.start() - 1
        while end > 0 and text[end - 1] in " \t,":
            end -= 1
        start = end
        taken = 0
        position = end
        while taken < 3:
            word = _WORD_BEFORE.search(text, max(0, position - 40), position)
            if word is None:
                break
            if not credential_name_word(word.group(1)):
                if taken and word.group(1).casefold() in _PARTICLES:
                    start = word.start(1)
                    position = word.start(1)
                    continue
                break
            start = word.start(1)
            taken += 1
            position = word.start(1)
        if taken:
            out.append((start, end))
    return out


_WORD_BEFORE = regex.compile(r"(?<![\p{L}'’-])(\p{L}[\p{L}'’-]*\p{L})[ \t]{0,2}\Z", regex.V0)


@lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


@lru_cache(maxsize=1)
def _clinical_words_only() -> frozenset[str]:
    from clinflow.deid.text.lexicon import CLINICAL_SAFE

    return frozenset(w.casefold() for w in CLINICAL_SAFE)


# ----- a care site in a letterhead or a heading, or after a site's label --------------------

_HEADING_WORD = regex.compile(
    r"(?i:department|dept|clinic|service|services|unit|note|notes|summary|report|sheet|record|"
    r"letter|consult|consultation|liaison|team|program|programme|nursing|radiology|pathology|"
    r"laboratory|pharmacy|outpatients?|inpatients?|medicine|surgery|health|referral|"
    r"assessment|encounter|visit|review|handover|proforma|worksheet|log|run|transfer)\b",
    regex.V0,
)
_DASH_LINE = regex.compile(
    r"^[ \t]*(?P<left>[^\n]{2,60}?)[ \t]+(?:-{1,2}|—|–|\|)[ \t]+(?P<right>[^\n]{2,80}?)[ \t]*$",
    regex.V0 | regex.M,
)
_SITE_PHRASE = regex.compile(
    r"(?:\p{Lu}[\p{L}'’.&-]*|\d{1,3}[A-Z]?)(?:[ \t](?:of|the|and|&|on|upon|de|la|du|"
    r"\p{Lu}[\p{L}'’.&-]*|\d{1,3}[A-Z]?)){0,5}",
    regex.V0,
)


def _site_words(phrase: str, is_word: Callable[[str], bool], is_clinical: Callable[[str], bool]
                ) -> bool:
    """A capitalised phrase that names a site: its first word no clinical or calendar word,
    not every word a clinical or heading word, one word alone no ordinary word."""
    words = [w for w in _WORD.findall(phrase) if w.casefold() not in _PHRASE_JOINS]
    if not words or words[0].casefold() in _MONTHS_DAYS or is_clinical(words[0]):
        return False
    if _TITLE.match(phrase + " ") is not None:
        return False  # "GP: Dr Okafor" is a person
    if all(is_clinical(w) or _HEADING_WORD.fullmatch(w) for w in words):
        return False
    if len(words) == 1:
        word = words[0]
        return not is_word(word) and not (_ACRONYM.fullmatch(word) and len(word) < 3)
    return True


_PHRASE_JOINS = frozenset("of the and on upon de la du".split())


_DOCUMENT_WORD = regex.compile(
    r"(?i:\b(?:form|report|visit|assessment|note|notes|sheet|log|review|request|notice|"
    r"evaluation|summary|encounter|consult|consultation|letter|worksheet|proforma|record|"
    r"comments|flowsheet|plan|screening|intake|download)\b)",
    regex.V0,
)


def _proper_word(
    word: str, is_word: Callable[[str], bool], is_clinical: Callable[[str], bool]
) -> bool:
    """A word of a proper name: listed, or no English, clinical word or acronym, nor made
    of English parts joined by hyphens ("INTERPRETER-ASSISTED")."""
    if is_name(word) and not is_english_word(word):
        return True  # not "WARD", "DAY": names that are English words too
    if _ACRONYM.fullmatch(word) or is_clinical(word):
        return False
    # British spellings are English too ("PAEDIATRIC", "HAEMATOLOGY", "OESOPHAGEAL")
    american = word.casefold().replace("ae", "e").replace("oe", "e")
    if is_word(american) or is_clinical(american):
        return False
    return any(not is_word(part) and len(part) >= 4 for part in word.split("-"))


def letterhead_sites(
    text: str, is_word: Callable[[str], bool], is_clinical: Callable[[str], bool]
) -> Spans:
    """In the first lines of a note, a capitalised site beside a heading across a dash or
    bar: "RIVERTON - DEPARTMENT OF RADIOLOGY", "DISTRICT NURSING -- Clydeside West HSCP"."""
    out: Spans = []
    head_end = 0
    for _ in range(4):
        nl = text.find("\n", head_end)
        if nl < 0:
            head_end = len(text)
            break
        head_end = nl + 1
    for match in _DASH_LINE.finditer(text, 0, head_end):
        for side, other in (("left", "right"), ("right", "left")):
            phrase = match[side]
            whole = _SITE_PHRASE.fullmatch(phrase)
            if whole is None or _HEADING_WORD.search(match[other]) is None:
                continue
            # a heading's words are English ("TELEPHONE ENCOUNTER", "SPLIT NIGHT"): a site
            # has a proper name in it ("RIVERBEND DIALYSIS UNIT", "Severn Vale CAMHS")
            if _DOCUMENT_WORD.search(phrase) is not None:
                continue  # "TELEHEALTH VISIT", "INTERFACILITY TRANSFER FORM"
            if _site_words(phrase, is_word, is_clinical) and any(
                _proper_word(w, is_word, is_clinical) for w in _WORD.findall(phrase)
            ):
                out.append(match.span(side))
    return out


_SITE_LABEL = regex.compile(
    r"(?:^|(?<=[|;(]))[ \t]*(?i:clinic|gp|gp[ \t]practice|practice|surgery|hospital|facility|site|"
    r"pharmacy|lab|laboratory|agency|nursing[ \t]home|care[ \t]home|placement|"
    r"accepting[ \t]facility|referring[ \t](?:facility|hospital)|location|venue|base)"
    r"[ \t]*:[ \t]*",
    regex.V0 | regex.M,
)


def sites_after_labels(
    text: str, is_word: Callable[[str], bool], is_clinical: Callable[[str], bool]
) -> Spans:
    """The capitalised phrase after a site's label: "GP: Waratah", "Clinic: Smile Bright
    Kids", "Pharmacy: Harbour Chemist"."""
    out: Spans = []
    for match in _SITE_LABEL.finditer(text):
        phrase = _SITE_PHRASE.match(text, match.end())
        if phrase is None:
            continue
        surface = phrase.group()
        while surface and surface.split()[-1].casefold() in _PHRASE_JOINS:
            surface = surface.rsplit(None, 1)[0] if " " in surface else ""
        if surface and _site_words(surface, is_word, is_clinical):
            out.append((phrase.start(), phrase.start() + len(surface)))
    return out


# ----- a place named by the agency or the number-plate it goes with ------------------------

# the agency or plate word is found first, the place looked back at from it
_AGENCY_OR_PLATE = regex.compile(
    r"(?<=[ \t])(?:(?P<agency>PD|P\.D\.|Police|Sheriff|Fire[ \t]Dep(?:artmen)?t|Constabulary)"
    r"|(?P<plate>(?i:plates?|tag|licen[cs]e[ \t]plate)))\b",
    regex.V0,
)
_PLACE_BEFORE = regex.compile(
    r"(?<![\p{L}'’-])(?P<place>\p{Lu}[\p{L}'’-]+(?:[ \t]\p{Lu}[\p{L}'’-]+)?)[ \t]+\Z",
    regex.V0,
)
_REGION_BEFORE = regex.compile(
    r"(?:(?<=[(\[,;:][ \t]?)|(?<=\b(?i:car|van|truck|vehicle|a|an|the)[ \t]))"
    r"(?P<place>[A-Z]{2,3}|\p{Lu}[\p{L}'’-]+(?:[ \t]\p{Lu}[\p{L}'’-]+)?)[ \t]+\Z",
    regex.V0,
)


def places_by_agency_or_plate(text: str, is_word: Callable[[str], bool]) -> Spans:
    """A town before its police or fire service ("Bexleigh PD") and a state or province
    before a number-plate ("(QC plate GHK 772)"), when not every word is an ordinary one."""
    out: Spans = []
    for cue in _AGENCY_OR_PLATE.finditer(text):
        before = _PLACE_BEFORE if cue["agency"] else _REGION_BEFORE
        match = before.search(text, max(0, cue.start() - 48), cue.start())
        if match is not None:
            place = match["place"]
            words = _WORD.findall(place)
            if _ACRONYM.fullmatch(place):
                if place in ("NO", "ID", "UK", "US", "EU") or is_word(place) and len(place) > 2:
                    continue
            elif all(is_word(w) for w in words):
                continue  # "State Police", "Front plate"
            out.append(match.span("place"))
    return out


# ----- a lower-case name's next word ---------------------------------------------------------

_NEXT_LOWER_WORD = regex.compile(r"[ \t](\p{Ll}[\p{Ll}'’-]*\p{Ll})(?![\p{L}\d'’-])", regex.V0)


def lowercase_family_after(text: str, names: list[tuple[int, int]]) -> Spans:
    """A lower-case name found alone ("paged amelia") and the lower-case word right after
    it when that word is a listed name or no English word ("amelia brightwell"): the family
    name typed the same way as the given name."""
    out: Spans = []
    for start, end in names:
        surface = text[start:end]
        if not surface.islower() or " " in surface:
            continue
        after = _NEXT_LOWER_WORD.match(text, end)
        if after is not None and strict_name_word(after.group(1)):
            out.append((start, after.end(1)))
    return out
