"""Person-name recognizers that need no model: dictionary, context rules, recall-first.

Three rules over one tokenisation of the note (words, initials such as ``G.``):

- ``name_dictionary``: a capitalised word that is a first or last name in the name lists
  (``lexicon.person_names``) and not a safe word seeds a name; adjacent capitalised words and
  initials that are not English words join it ("Xzavian G. Tavares", "Tavares, Xzavian").
- ``name_context``: words in *name position* — after a title (Dr., Mrs.), after a cue such as
  "signed by", "dictated by", "d/w", "discussed with", "cc:", "attending:", "PCP:", "Dear",
  a relation ("wife", "son"), before a credential ("M.D.", "RN", "PA-C", "PhD"), or alone on a
  signature line after "Sincerely," — are a name whatever the dictionary says; after strong
  cues even lower-case ("d/w holmes"), unless the word is a safe or clinical word.
- ``name_recall_first`` (Philter's idea, a policy option): any capitalised word that is not an
  English word (spaCy's WordNet lemma list) and not on the safe list is a name.

Each rule returns ``(start, end, recognizer, score)`` tuples; the engine turns them into
``Span`` objects labelled ``PERSON``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import regex  # type: ignore[import-untyped]

from clinflow.deid.text.lexicon import (
    CLINICAL_SAFE,
    all_person_names,
    anglo_given_names,
    city_names,
    is_english_word,
    is_name,
    languages,
    noun_only_words,
    person_names,
    safe_words,
    state_codes,
)

NameHit = tuple[int, int, str, float]

# words (not glued to digits: "SpO2", "A1c" are not names) and initials ("G.")
_TOKEN = regex.compile(
    r"(?<![\d\p{L}])(?:\p{Lu}\.(?!\p{L})|\p{L}[\p{L}'’\-]*\p{L}(?![\d\p{L}])|\p{L}(?![\d\p{L}]))",
    regex.V0,
)
# Between two words of one name: spaces or tabs (no newline), or "Family, Given".
_JOIN = regex.compile(r"[ \t]{1,3}|[ \t]?,[ \t]{1,2}|\.[ \t]{1,2}", regex.V0)

_TITLES = (
    r"Dr|Drs|Doctor|Mr|Mrs|Ms|Mx|Miss|Mister|Prof|Professor|Nurse|Sr|Sister|Rev|Reverend|"
    r"Father|Fr|Rabbi|Pastor|Capt|Sgt|Officer|"
    # Spanish, Italian, French and German forms of address: "Dra. Molina", "Dott. Marchesi"
    r"Dra|Sra|Srta|Dott|Dottssa|Mme|Mlle|Herr|Frau|"
    # police and court officers, as incident and jail notes write them
    r"Ofc|Det|Detective|Deputy|Dep|Cpl|Trooper|Constable|"
    # South Asian forms of address: "Smt. Vasantha", "Shri Ramesh" (not "Sri": Sri Lanka)
    r"Smt|Shri|Shrimati"
)
# Cues after which the next words are a person's name (strong: even lower-case words).
# lower-case "sister", "father" are relations (their cue takes "sister - Ifeoma" too)
_TITLES_LOWER = "|".join(t for t in _TITLES.lower().split("|") if t not in ("sister", "father"))
_TITLES_UPPER = _TITLES.upper()
_TITLE_ONLY = regex.compile(rf"(?:{_TITLES})\.?", regex.I | regex.V0)
_STRONG_CUES = regex.compile(
    # titles: as written ("Dr", "dr"), or in capitals only with a period ("DR." but not the
    # "MR" of an MR scan)
    rf"(?:(?-i:\b(?:{_TITLES})\b\.?|\b(?:{_TITLES_LOWER})\b\.?|\b(?:{_TITLES_UPPER})\."
    r"|\b(?:DR|DRS|MRS|MS|PROF)\b(?=[ \t]+[A-Z]{3,}))"
    r"|\b(?:electronically\s+)?signed(?:\s+electronically)?(?:\s+by)?\s*:?"
    r"|\b(?:dictated|transcribed|authored|reviewed|cosigned|co-signed|verified|"
    r"approved|interpreted|read|prepared|entered|written|attested|examined)\s+by\s*:?"
    r"|\bd/w|\bdw\b|\bdiscussed\s+(?:with|w/)|\bdiscussed\s+(?:the\s+)?case\s+with"
    r"|\b(?:spoke|spoken|talked|conferred|consulted)\s+(?:with|to)|\bcc\s*:|\bc\.c\.\s*:?"
    r"|\b(?:attending|resident|intern|fellow|surgeon|physician|provider|pcp|np|pa|rn|nurse|"
    r"anesthesiologist|radiologist|pathologist|cardiologist|consultant|author|dictator|"
    r"transcriptionist|therapist|sw|social\s+worker|case\s+manager|referring(?:\s+\w+)?|"
    r"primary\s+care(?:\s+physician|\s+provider)?|ordering(?:\s+\w+)?|attending\s+physician|"
    r"hcp|health\s*care\s+proxy|emergency\s+contact|contact|guardian|poa|next\s+of\s+kin|"
    r"patient(?:\s+name)?|pt\s+name|name|to|from|attn|by|signature|sign|doctor|dr|note\s+by|"
    r"seen\s+by|entered\s+by|created\s+by)\s*[:(]"
    r"|\bdear|\bc/o|\bper\s+(?:dr\.?|attending|pcp)|/s/|\bsd/-"
    r"|\b(?:authenticated|ordered|requested|performed|assisted|scribed|accompanied|escorted|"
    r"transported|covered|supervised|staffed|precepted)\s+by\s*:?"
    r"|\b(?:covering\s+for|sign(?:ed)?\s+out\s+to|hand(?:ed)?\s*off\s+to|on\s+behalf\s+of)"
    r"|\b(?:cosigner|co-signer|supervising(?:\s+physician)?|teaching\s+physician|staff|"
    r"consult(?:ant)?|reading(?:\s+physician)?|interpreting(?:\s+physician)?|dictating|"
    r"scribe|md|do|np|pa|rn|lpn|cna|preceptor|proxy|surrogate|witness|interpreter|"
    # assistants by their role's letters: "MA: Brisa", "PTA: Kiana"
    r"ma|pta|cota|srna|cst)\s*:"
    r"|\b(?:(?:wife|husband|son|daughter|mother|father|sister|brother|spouse|partner|friend|"
    r"boyfriend|girlfriend|fiancee?|aunt|uncle|niece|nephew|cousin|grandson|granddaughter|"
    r"grandmother|grandfather|caregiver|neighbou?r|roommate|mom|dad|stepson|stepdaughter|"
    r"stepmother|stepfather|sibling|child|aide|interpreter|chaplain|pharmacist|parent)s?|"
    r"children|kids|grandchildren|"
    r"(?:his|her|their|pt's|patient's)\s+(?:wife|husband|son|daughter|mother|father|sister|"
    r"brother|spouse|partner|friend|aunt|uncle|niece|nephew|cousin|neighbou?r|caregiver)s?)\b"
    r"(?:\s*,|\s*\(|\s+is|\s+named|[ \t]*[-–:])?"
    r"|\bwith\s+(?:dr\.?|attending|pcp)"
    r")[ \t]{0,3}",
    regex.I | regex.V0,
)
# Weaker cues: the next capitalised words count only when they are not English words or are
# in the name lists ("per Hobbs", "wife Maria", "paged Tavares").
_WEAK_CUES = regex.compile(
    r"(?:\bre:|\bpt:|"
    # a procedure's staff and a role on a stated shift (before "attending" alone below):
    # "Operators: Okonkwo-Pinckney / Verghese", "Histotech: Gus", "Attending overnight: Saleeby"
    r"\b(?:operators|proceduralists?|histotech(?:nician|nologist)?s?|"
    r"(?:attending|attg|fellow|resident|hospitalist|intensivist|surgeon)[ \t]+"
    r"(?:overnight|on[ \t]+call|tonight|today|this[ \t]+week|of[ \t]+record))\s*:|"
    r"\b(?:per|paged|page|called|notified|informed|with|by|from|to|and|seen\s+by|"
    r"attending|resident|intern|fellow|surgeon|pcp|physician|provider|consultant|covering|"
    r"messaged|texted|emailed|phoned|told|asked|thanked|updated|"
    r"(?:present|attendees|in\s+attendance|participants|team|members)\s*:|"
    r"(?:off|on|oncoming|outgoing|incoming|handoff\s+to)\s*:|"
    # a team's or unit's staff by their role on a sign-out or board: "Attg: Blumenfeld",
    # "Charge: Dieudonne", "Senior: Okonkwo-Hale", "CCU: Castillo-Reyna"
    r"(?:attg|attd|charge|senior|junior|cross-?cover|float|huddle\s+lead|micu|sicu|ccu|cvicu|"
    r"nicu|picu|supervisor|student|(?:call\s+)?handler|triage\s+nurse|crew)\s*:|"
    # staff labelled by their theatre or ward role: "ODP: Obed", "Scrub: Mara", "NIC: Ffion"
    r"(?:odp|scrub(?:\s+nurse)?|anaesthetist|anesthetist|circulat(?:ing|or)|nic|cons|sho|"
    r"outreach|registrar|midwife|physio|ota|slt|key\s*worker|named\s+nurse|charge\s+nurse|"
    r"allocated\s+nurse|nurse\s+in\s+charge|porter|hca|runner|recorder|scribe|tech|"
    r"technician|circ|assistants?|counselor|counsellor|advocate|navigator|minutes|sn)\s*:|"
    # any role by the shape of its word: "Audiologist:", "Dietitian:", "Optician:"
    r"\p{L}{3,}(?:ist|ician|itian)\s*:|"
    r"(?:his|her|their|pt's|patient's)\s+\w+)\s*,?)[ \t]{1,3}",
    regex.I | regex.V0,
)
# The patient's slot ("pt eleanor vance", "re pt zhou wei", "client:"): capitalised words as
# after a weak cue, lower-case words when they are names or not English at all
_PATIENT_CUES = regex.compile(
    r"(?:\bname\s*\([^)\n]{0,20}\)\s*:"  # form labels: "PATIENT NAME (LAST, FIRST):"
    r"|\b(?:re:?\s+)?(?:pt|patient|client|resident|member|pt\s+name|name)\b\s*:?"
    r"|(?-i:\b(?:Mrs?|Ms|Miss|mrs?|ms|miss)\b\.?|\b(?:MRS?|MS)\.)"  # not the MR of a scan
    r"|\b(?:this\s+is|my\s+name\s+is)"
    # staff named by their role ("micro tech Hyacinth", "EMT Lamar Fitch", "on-call rn dwight")
    r"|\b(?:tech|technician|technologist|emt|paramedic|medic|hca|sn|sitter|scribe|navigator|"
    r"coordinator|aide|dietitian|rd|pharmacist|officer|trooper|caseworker|counsell?or|"
    r"chaplain|interpreter|volunteer|therapist|slp|rt|cna|lpn|rn|np|pa|midwife|"
    r"doula|phlebotomist|porter|receptionist|manager|liaison|matron|registrar|sho|"
    r"transporter|perfusionist|student|float\s+pool|evs|housekeeper|unit\s+clerk|front\s+desk|"
    # community health aides and practitioners, assistants, clerks: "CHP Kava", "MA Paddy",
    # "COTA Ike", "MSW Hank", "ED clerk Barb Penney", "physiotherapist Sioned"
    r"(?<![,][ \t]{0,2})(?-i:(?:CHP|CHA|CHW|MA|COTA|MSW)(?=[ \t]+\p{Lu}\p{Ll}))|clerk|pct|"
    r"physiotherapist|physio|"
    # people around the patient named by their role: "adjuster Karen Ruiz", "landlord Mr X"
    r"adjuster|attorney|lawyer|solicitor|advocate|landlord|landlady|foreman|dispatcher|"
    r"teacher|coach|employer|priest|imam|minister|warden|carer)\b,?)"
    r"[ \t]{1,3}",
    regex.I | regex.V0,
)
# Nicknames: "goes by \"Vale\"", "known as Tito", "aka Chuy"
_NICKNAME_CUES = regex.compile(
    r"\b(?:goes\s+by|going\s+by|known\s+as|aka|a\.k\.a\.|nicknamed|prefers\s+to\s+be\s+called|"
    r"prefers|likes\s+to\s+be\s+called|calls\s+(?:him|her|them)self|"
    r"calls\s+(?:him|her|them|(?:his|her|their)\s+\w+)|preferred(?:\s+name)?[ \t]*:|named|"
    # a friend named only by a nickname in quotes: 'Friend ("Rusty", per pt)'
    r"(?:friend|neighbou?r|roommate|boyfriend|girlfriend|buddy)[ \t]*\(?)[ \t]{0,3}[\"“‘']",
    regex.I | regex.V0,
)
_CREDENTIAL_KEYS = frozenset(
    "md do rn np pa phd mbbs cnm crna lpn licsw lcsw msw pharmd dpm dds dmd facp facc facs mph "
    "aprn anp fnp cns bsn msn rd dpt slp rrt cna ma otr pt ot esq jr sr ii iii iv".split()
)
_CREDENTIAL = regex.compile(
    r",?[ \t]*(?:M\.D\.|MD|D\.O\.|DO|R\.N\.|RN|N\.P\.|NP|P\.A\.|PA-C|PA|Ph\.D\.|PhD|MBBS|"
    r"CNM|CRNA|LPN|LICSW|LCSW|MSW|PharmD|DPM|DDS|DMD|FACP|FACC|FACS|MPH|APRN|ANP|FNP|ACNP|"
    r"CNS|BSN|MSN|RD|DPT|SLP|RRT|CNA|MA|OTR|OTR/L|PT|LMFT|PsyD|PMHNP|DNP|CNP|AGACNP|"
    r"CCRN|RN-BC|FNP-BC|PMHNP-BC|NP-C|ANP-BC|MD-PhD|CRNP|LNA|MT|MLS|RPh|PharmD|RDN|"
    r"CDE|CDCES|LMHC|LPC|BCBA|CCC-SLP|AuD|OD|DC|DMD|CSFA|CRNFA|EMT|EMT-B|EMT-P|NRP|CHPN|"
    # a surgical technologist, not an eye's central subfield thickness ("OD CST 412")
    # (and a certified clinical perfusionist: "Tunde Bakare, CCP")
    r"CGC|CPhT|CCP|CST(?![ \t]*\d)|"
    # a respiratory therapist on a team line ("Haddad RT;"), not a side ("Knee RT swelling")
    r"RT(?=[ \t]*(?:[;)/]|$))"
    # an attorney's title after the name ("Ignatius Farrow, Esq.")
    r"|Esq\.?|Esquire)(?![\p{L}\d])"
    # "RN: Marguerite" is a label; "Okonjo, PharmD: recs..." (after a comma) a signature
    r"(?:(?![ \t]*:)|(?<=^,|[\p{L}],[ \t]{0,2}\S+))",
    regex.V0,
)


def credential_follows(text: str, end: int) -> bool:
    """A credential right after ``text[:end]`` (", MD", " CRNA"): what ends there is a name."""
    return _CREDENTIAL.match(text, end) is not None


# a role in parentheses right after a name: "Tamsin (charge RN)", "Lutz (RN)", "Jonas (son)"
_ROLE_AFTER = regex.compile(
    r"[ \t]*\((?:charge|primary|night|day|covering|bedside|floor|unit)?[ \t]*(?:RN|MD|NP|PA|"
    r"attending|resident|intern|fellow|nurse|SW|PT|OT|SLP|RT|pharmacist|physician|surgeon|"
    r"PCP|CNA|LPN|tech|aide|sitter|chaplain|interpreter|wife|husband|son|daughter|mother|"
    r"father|sister|brother|partner|friend|neighbou?r|niece|nephew|aunt|uncle|cousin|"
    r"grandson|granddaughter|HCP|proxy|RD|RRT|"
    # a role after a qualifier of its service: "Mehrotra (AHF fellow)", "(CT surg attending)"
    r"(?:[\p{L}-]+[ \t]){1,2}(?:fellow|resident|attending|intern|RN|NP|PA|hospitalist)|"
    # British and Commonwealth ward and theatre roles
    r"physio|physiotherapist|SLT|SALT|dietitian|dietician|cons|consultant|reg|registrar|"
    r"SHO|FY1|FY2|F1|F2|CT[12]|ST[1-8]|chair|CNS|HCA|ODP|scrub|anaesthetist|anesthetist|"
    r"psych|psychologist|key[ \t]worker|GP|matron|midwife|MW|dentist|podiatrist|"
    r"orthoptist|radiographer|sonographer|phlebotomist|porter|EMT|paramedic|medic"
    # any role by the shape of its word, after up to two words, before a remark: "(MDT
    # coordinator, minutes)", "(lead podiatrist)", "(duty social worker)"
    r"|(?:[\p{L}-]+[ \t]){0,2}(?:\p{L}{2,}(?:ist|ician|itian|ator|isor|ellor)|\p{L}*(?:nurse|"
    r"worker|officer|manager|assistant|secretary|clerk|lead|carer|therapist|technologist))"
    r"(?:,[^)\n]{0,30})?)\)",
    regex.I | regex.V0,
)
# "Given Family, XXXX" alone on a line: a signature with a credential we may not list
_SIGNATURE_LINE = regex.compile(
    r"(?m)^[ \t]*(?:[-–—]{1,2}[ \t]*)?((?:\p{Lu}\.[ \t]?|\p{Lu}[\p{Ll}'’-]+[ \t]+)"
    r"(?:\p{Lu}\.[ \t]+)?\p{Lu}[\p{Ll}'’-]+(?:-\p{Lu}[\p{Ll}'’-]+)?),[ \t]*"
    r"\p{Lu}[\p{Lu}\p{Ll}/-]{1,9}(?:,[ \t]*\p{Lu}[\p{Lu}\p{Ll}/-]{1,9})*[ \t]*$",
    regex.V0,
)
# a name signing a line after a dash: "Thanks! -Priyamvada", "~ Tamsin"
# (with their desk after it: "- Nektaria (front)")
_DASH_SIGNATURE = regex.compile(
    r"(?m)(?:^|(?<=[\s.!,]))[-–—~]{1,2}[ \t]?"
    r"(?=\p{Lu}\p{Ll}+[ \t]*(?:\([\p{Ll} ]{2,20}\))?[ \t]*$)"
)
_SIGN_OFF = regex.compile(
    r"(?:sincerely|regards|best|thank\s+you|thanks|respectfully|yours\s+truly|cordially)"
    r"[,.]?[ \t]*\n(?:[ \t]*\n)*",
    regex.I | regex.V0,
)


_PREFIXED_CAPITAL = regex.compile(r"(?:al|el|ad|ud|as|ash|ibn|bin|abu|d)[-'’]\p{Lu}", regex.V0)


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    text: str

    @property
    def initial(self) -> bool:
        """ "G." or a lone capital other than the pronoun "I" ("Xzavian G Tavares")."""
        if len(self.text) == 2:
            return self.text[1] == "." and self.text[0].isupper()
        return len(self.text) == 1 and self.text.isupper() and self.text != "I"

    @property
    def capitalised(self) -> bool:
        """A capital first letter, or one after a lower-case name prefix ("al-Amin",
        "el-Sayed", "d'Angelo")."""
        return self.text[0].isupper() or _PREFIXED_CAPITAL.match(self.text) is not None

    @property
    def all_caps(self) -> bool:
        return len(self.text) > 1 and self.text.isupper()

    @property
    def abbreviation(self) -> bool:
        """All capitals and not a listed name: CHF, EMS, LBBB are not names."""
        return self.all_caps and not is_name(self.text)

    @property
    def key(self) -> str:
        low = self.text.casefold().replace("’", "'")
        return low[:-2] if low.endswith("'s") else low


@lru_cache(maxsize=1)
def _clinical_words() -> frozenset[str]:
    """Words that end a name: clinical vocabulary and common English beyond the safe list."""
    from clinflow.deid.text.lexicon import english_vocabulary

    # WordNet's proper nouns (famous people, places: "Ignatius", "Hutchins") may be names
    return _clinical() | (
        english_vocabulary() - all_person_names() - city_names() - noun_only_words()
    )


@lru_cache(maxsize=1)
def _clinical() -> frozenset[str]:
    return frozenset(CLINICAL_SAFE)


def _tokens(text: str) -> list[_Token]:
    return [_Token(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]


def _joined(text: str, left: _Token, right: _Token) -> bool:
    return _JOIN.fullmatch(text, left.end, right.start) is not None


def _is_name_word(token: _Token) -> bool:
    """A word that may continue a name: an initial, or a capitalised non-safe word that is a
    dictionary name or not an English word."""
    if token.initial:
        return True
    if not token.capitalised or token.key in safe_words() or token.abbreviation:
        return False
    if brand_or_abbreviation_shape(token.text):
        return False
    # next to a name, any capitalised word that is not a safe (common, clinical) word counts
    return token.key not in _clinical_words()


def is_clinical_word(word: str) -> bool:
    """``word`` is a clinical or heading word (CLINICAL_SAFE), never part of a name."""
    return word.casefold() in _clinical()


def is_vocabulary(word: str) -> bool:
    """``word`` (any case) is a safe word, clinical vocabulary or common English, not a name."""
    key = word.casefold()
    if key in safe_words() or key in _clinical():
        return True
    return is_english_word(word) and not is_name(word)


def is_name_like(word: str) -> bool:
    """``word`` may continue a name next to one already found (an initial, a listed name,
    a capitalised word that is not English and not a safe word)."""
    match = _TOKEN.fullmatch(word)
    return match is not None and _is_name_word(_Token(0, len(word), word))


def dictionary_names(text: str, tokens: list[_Token] | None = None) -> list[NameHit]:
    """Capitalised dictionary names and the name-like words next to them."""
    tokens = _tokens(text) if tokens is None else tokens
    safe = safe_words()
    hits: list[NameHit] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        seed = (
            token.capitalised
            and len(token.text) >= 2
            and not token.initial
            and token.key not in safe
            and is_name(token.text)
            and (not token.all_caps or (len(token.text) >= 4 and not is_english_word(token.text)))
        )
        if not seed:
            index += 1
            continue
        first = last = index
        while (
            first > 0
            and _joined(text, tokens[first - 1], tokens[first])
            and _is_name_word(tokens[first - 1])
        ):
            first -= 1
        while (
            last + 1 < len(tokens)
            and _joined(text, tokens[last], tokens[last + 1])
            and (_is_name_word(tokens[last + 1]))
        ):
            last += 1
        hits.append((tokens[first].start, tokens[last].end, "name_dictionary", 0.6))
        index = last + 1
    return hits


@lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


@lru_cache(maxsize=1)
def never_after_cue() -> frozenset[str]:
    """Words that are not a name even right after "d/w" or "Dr.": function words, clinical
    words, eponyms and drugs (common English words such as "Young" or "White" may be)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    from clinflow.deid.text.lexicon import MEDICAL_SAFE, MONTHS, WEEKDAYS

    extra = {w.casefold() for w in (*MONTHS, *WEEKDAYS)} | {
        "morning",
        "afternoon",
        "evening",
        "night",
        "today",
        "tomorrow",
        "yesterday",
        "tonight",
        "hello",
        "hi",
        "thanks",
        "thank",
        "ok",
        "okay",
        "yes",
        "no",
        "sure",
        "good",
        "great",
        "fine",
        "well",
        "noted",
        "none",
        "unknown",
        "pending",
        "n/a",
        "na",
        "same",
        "self",
    }
    from clinflow.deid.text.lexicon import languages

    return _clinical() | frozenset(STOP_WORDS) | frozenset(MEDICAL_SAFE) | extra | languages()


# the title of a specialist, never a name: "Cardiologist", "Paediatrician", "Orthodontist"
_SPECIALIST = regex.compile(
    r"(?:olog(?:ist|ists|y)|ician|icians|iatrist|iatrists|iatrician|therapist|ographer|"
    r"odontist|opaedist|opedist|ometrist|ologue)$",
    regex.V0,
)


def _accept_after_cue(token: _Token, strong: bool, slot: bool = False) -> bool:
    if token.initial:
        return True
    if slot:
        if token.capitalised:
            return not token.all_caps and _is_name_word(token) or (
                token.all_caps and len(token.text) >= 4 and not is_english_word(token.text)
            )
        return (
            token.key not in safe_words()
            and (
                is_name(token.text)
                or not is_english_word(token.text)
                or token.key in noun_only_words()
            )
            and (not is_vocabulary(token.text) or token.key in noun_only_words())
        )
    if token.key in _clinical() or (token.key in safe_words() and not token.capitalised):
        if not (strong and token.key not in never_after_cue()):
            return False
    if _SPECIALIST.search(token.key) is not None:
        return False  # "Consultant Paediatrician", "with Radiologist"
    if token.capitalised:
        if token.all_caps and len(token.text) <= 4 and not is_name(token.text):
            return False  # "d/w RT", "with CHF"
        if brand_or_abbreviation_shape(token.text):
            return False  # "from HeartMate 3", "with IADLs"
        if strong:
            return token.key not in never_after_cue() or is_name(token.text)
        return _is_name_word(token)
    # lower case ("d/w holmes", "d/w young"): after a strong cue any word but function,
    # clinical and drug words; after a weak cue ("per holmes") only a listed name
    if not strong:
        return is_name(token.text) and token.key not in safe_words()
    # a verb form that is no name ("son called", "wife passed", "daughter visiting") is an
    # action, not a person; other rare words are taken ("d/w hutchins")
    if token.key.endswith(("ed", "ing")) and is_english_word(token.text):
        return is_name(token.text) or token.key in all_person_names()
    return token.key not in never_after_cue() and (
        is_name(token.text)
        or not is_english_word(token.text)
        or token.key in noun_only_words()
    )


def _take(
    text: str,
    tokens: list[_Token],
    at: int,
    strong: bool,
    limit: int = 4,
    capitalised_only: bool = False,
    slot: bool = False,
) -> int:
    """How many tokens from ``at`` form a name after a cue (0 = none); after a title
    ("Nurse", "Dr.") only capitalised words ("the nurse line" is not a name)."""
    count = 0
    while at + count < len(tokens) and count < limit:
        token = tokens[at + count]
        if count and not _joined(text, tokens[at + count - 1], token):
            break
        if capitalised_only and not token.capitalised:
            break
        if len(token.text) == 1 and text.startswith("/", token.end):
            break  # "CC: f/u": a letter before a slash is an abbreviation, not an initial
        if len(token.text) == 1 and token.text.islower() and text.startswith(".", token.end):
            count += 1  # "dr. k. o'farrell": a lower-case initial
            continue
        if (
            count
            and token.all_caps
            and tokens[at + count - 1].all_caps
            and text[tokens[at + count - 1].end : token.start].strip() == ","
            and token.key not in _CREDENTIAL_KEYS
            and not is_english_word(token.text)
        ):
            count += 1  # "ADEYEMI-STONE, TEMI": the given name of a name in capitals
            continue
        if not _accept_after_cue(token, strong, slot):
            following = tokens[at + count + 1] if at + count + 1 < len(tokens) else None
            if not (
                token.capitalised
                and not token.all_caps
                and following is not None
                and text[token.end : following.start] == " "
                and following.capitalised
                and not following.all_caps
                and _is_name_word(following)
                and not is_english_word(following.text)
                and token.key not in never_after_cue()
            ):
                break
        if (
            not token.capitalised
            and is_english_word(token.text)
            and at + count + 1 < len(tokens)
            and not text[token.end : tokens[at + count + 1].start].strip()
            and not tokens[at + count + 1].capitalised
            and len(tokens[at + count + 1].text) >= 3
            and tokens[at + count + 1].key not in _function_words()
            and is_vocabulary(tokens[at + count + 1].text)
        ):
            break  # "sign out to day team": an English word before another is a phrase
        count += 1
    if count == 1 and tokens[at].initial and not capitalised_only:
        return 0  # "due to E. coli", "deviation to R": a lone initial is not a name
    if slot and count and all(
        not t.capitalised and not t.initial and is_english_word(t.text) and not is_name(t.text)
        for t in tokens[at : at + count]
    ):
        return 0  # WordNet nouns only ("pt education"): one word must be a name or foreign
    # a name is not only initials
    while (
        count
        and tokens[at + count - 1].initial
        and count > 1
        and all(t.initial for t in tokens[at : at + count])
    ):
        count -= 1
    return count


def context_names(text: str, tokens: list[_Token] | None = None) -> list[NameHit]:
    """Names in name position: after titles and cues, before credentials, after sign-offs."""
    tokens = _tokens(text) if tokens is None else tokens
    starts = {t.start: i for i, t in enumerate(tokens)}
    hits: list[NameHit] = []
    for pattern, strong, score in (
        (_STRONG_CUES, True, 0.8),
        (_WEAK_CUES, False, 0.6),
        (_DASH_SIGNATURE, False, 0.6),
        (_PATIENT_CUES, False, 0.6),
        (_NICKNAME_CUES, True, 0.7),
    ):
        slot = pattern is _PATIENT_CUES
        for match in pattern.finditer(text):
            at = starts.get(match.end())
            if at is None:
                continue
            cue = match.group().strip()
            # after a title only capitalised words ("the nurse line"), except after a
            # lower-case abbreviation in quick notes ("dr hobbs")
            title = (
                strong
                and _TITLE_ONLY.fullmatch(cue) is not None
                and not (cue.islower() and cue.rstrip(".") in ("dr", "drs", "mr", "mrs", "ms"))
            ) or cue.replace(" ", "") == "CC:"  # chief complaint, not a copy to a person
            count = _take(text, tokens, at, strong, capitalised_only=title, slot=slot)
            if (
                not count
                and (
                    _RELATION_END.search(cue) is not None
                    or (slot and _after_staff_role(text, match.start(), cue, tokens[at]))
                )
                and _capitalised_word_as_name(tokens[at])
            ):
                # "grandson Will at bedside": after a relation word a capitalised common
                # word is a name (mid-sentence, grammar does not capitalise "will"); so after
                # a staff member's role within a line ("NP Sunny Reyes", "MSW Hank via")
                count = 1 + _take(text, tokens, at + 1, strong) if at + 1 < len(tokens) and (
                    _joined(text, tokens[at], tokens[at + 1])
                ) else 1
            if count:
                hits.append((tokens[at].start, tokens[at + count - 1].end, "name_context", score))
    ends = {t.end: i for i, t in enumerate(tokens)}
    for match in _CREDENTIAL.finditer(text):
        # the credential must follow a word directly (", M.D." or " MD")
        position = match.start()
        while position > 0 and text[position - 1] in " \t":
            position -= 1
        last = ends.get(position)
        if last is None or tokens[last].text in ("Dr", "Mr", "Mrs", "Ms"):
            continue
        first = last
        while (
            first > 0
            and last - first < 3
            and _joined(text, tokens[first - 1], tokens[first])
            and (
                text[tokens[first - 1].end : tokens[first].start].strip() != ","
                or first == last - 0
                and tokens[first - 1].capitalised
                and not tokens[first].initial
                or (last - first <= 1 and tokens[first - 1].capitalised)
            )
            and (tokens[first - 1].initial or tokens[first - 1].capitalised)
            and tokens[first - 1].key not in _clinical()
        ):
            first -= 1
        if tokens[last].capitalised and tokens[last].key not in _clinical():
            hits.append((tokens[first].start, tokens[last].end, "name_context", 0.75))
    for index, token in enumerate(tokens):
        role = _ROLE_AFTER.match(text, token.end)
        lower = None if role is None or token.capitalised else _lower_name_before(
            tokens, index, text
        )
        if lower is not None:
            hits.append((tokens[lower].start, token.end, "name_context", 0.55))
            continue
        if role is None or not token.capitalised or token.initial:
            continue
        first = index
        while (
            first >= 0
            and index - first < 3
            and tokens[first].capitalised
            # a role named right after is as strong a cue as a title before
            and _accept_after_cue(tokens[first], True)
            and (first == index or _joined(text, tokens[first], tokens[first + 1]))
        ):
            first -= 1
        if first < index:
            hits.append((tokens[first + 1].start, token.end, "name_context", 0.6))
    for match in _SIGNATURE_LINE.finditer(text):
        hits.append((match.start(1), match.end(1), "name_context", 0.7))
    for match in _SIGN_OFF.finditer(text):
        line_end = text.find("\n", match.end())
        line_end = len(text) if line_end < 0 else line_end
        at = starts.get(
            match.end()
            + len(text[match.end() : line_end])
            - len(text[match.end() : line_end].lstrip())
        )
        if at is None:
            continue
        count = _take(text, tokens, at, True)
        if count:
            hits.append((tokens[at].start, tokens[at + count - 1].end, "name_context", 0.75))
    for match in _POSSESSOR.finditer(text):
        word = match.group(1)
        # not an eponym's disease: "Parkinson's family history", "Wilson's sibling testing"
        if word.casefold() not in safe_words() and (is_name(word) or not is_vocabulary(word)):
            hits.append((match.start(1), match.end(1), "name_context", 0.6))
    return hits


# whose relative: "Wrenna's sister", "Dinah's father", "Halvor's side" (of a family)
_POSSESSOR = regex.compile(
    r"(?<![\p{L}\d'’-])(\p{Lu}\p{Ll}[\p{L}-]*\p{Ll})['’]s[ \t]+(?:(?:older|younger|late|"
    r"twin|eldest|oldest|youngest|half|step|paternal|maternal)[ \t-]+)?"
    r"(?:sister|brother|mother|father|mum|mom|dad|son|daughter|wife|husband|partner|side|"
    r"family|aunt|uncle|cousin|grandmother|grandfather|grandma|grandpa|niece|nephew|"
    r"children|kids|parents|siblings?|boyfriend|girlfriend|fianc[ée]e?|widow(?:er)?)s?\b",
    regex.V0,
)


def _lower_name_before(tokens: list[_Token], index: int, text: str) -> int | None:
    """The first token of a name typed in lower case right before a role in parentheses
    ("callum r (podiatrist)", "seen by jo (physio)"): one or two words, each a listed name or
    a single letter, not all letters, and not an ordinary word unless it is a listed name."""
    first = index
    while (
        first >= 0
        and index - first < 2
        and tokens[first].text.isalpha()
        and tokens[first].text.islower()
        and (first == index or _joined(text, tokens[first], tokens[first + 1]))
        and (
            len(tokens[first].text) == 1
            or is_name(tokens[first].text) and tokens[first].key not in safe_words()
        )
    ):
        first -= 1
    first += 1
    if first > index or all(len(tokens[i].text) == 1 for i in range(first, index + 1)):
        return None
    return first


_PARTICLE_KEYS = frozenset("bin ibn bint binti abu ap de del della der van von".split())

_RELATION_END = regex.compile(
    r"\b(?:wife|husband|son|daughter|mother|father|sister|brother|spouse|partner|friend|"
    r"boyfriend|girlfriend|fiancee?|aunt|uncle|niece|nephew|cousin|grandson|granddaughter|"
    r"grandmother|grandfather|stepson|stepdaughter|mom|dad)s?[ \t]*[,(]?$",
    regex.I | regex.V0,
)


# what a staff role heads when it is no one's name: "CHW Log", "RN Note", "MSW Assessment"
_DOCUMENT_WORDS = frozenset(
    "log note notes visit assessment encounter report summary form sheet record plan update "
    "consult eval evaluation intake review letter call contact referral order orders "
    "flowsheet documentation progress handoff handover station desk line pool".split()
)
# a staff member's role before their name (not a heading: the cue must stand inside a line)
_STAFF_END = regex.compile(
    r"\b(?:rn|np|pa|ma|cota|msw|lcsw|sw|slp|cna|lpn|chp|cha|chw|clerk|coordinator|"
    r"physiotherapist|physio|therapist|dietitian|dietician|aide|volunteer|caseworker|"
    r"chaplain|interpreter|tech|technician|midwife|doula|navigator|liaison|front[ \t]+desk)"
    r"[ \t]*,?$",
    regex.I | regex.V0,
)


# a credential closing a name before the cue: "Quist, MA, CCC-SLP"
_COMMA_BEFORE = regex.compile(r",[ \t]{0,2}$", regex.V0)


def _after_staff_role(text: str, cue_start: int, cue: str, token: _Token) -> bool:
    """Whether ``token`` may be a name because a staff member's role stands before it inside
    a line ("NP Sunny Reyes", "MSW Hank via"): not a heading (the cue opens no line), not a
    credential after a name, not a label, a care or document word ("CHW Log", "RN Note")."""
    line_start = text.rfind("\n", 0, cue_start) + 1
    return (
        _STAFF_END.search(cue) is not None
        and bool(text[line_start:cue_start].strip())
        and _COMMA_BEFORE.search(text, max(line_start, cue_start - 4), cue_start) is None
        and not text.startswith((":", "/"), token.end)
        and token.key not in INSTITUTION_WORDS
        and token.key not in _GENERIC_FACILITY
        and (token.key not in safe_words() or _given_name_word(text, token))
        and token.key not in _DOCUMENT_WORDS
    )


# what follows a staff member's given name inside a line: punctuation, a number, a lower-case
# word or the line end ("RN Summer called", "RN Frank, SW ...", "front desk Ruby 4/23/91"),
# not another capitalised word of a heading or a team ("RN Case Manager", "RN Staff Meeting")
_AFTER_GIVEN_NAME = regex.compile(r"[ \t]*(?:[,.;)/]|$)|[ \t]+(?:\p{Ll}|\d)", regex.M | regex.V0)


def _given_name_word(text: str, token: _Token) -> bool:
    """A capitalised English word that is also a given name ("Hope", "Summer", "Frank",
    "Ruby"), written mid-line after a staff role: the person's name, as the capital says."""
    return (
        token.capitalised
        and not token.all_caps
        and (token.key in anglo_given_names() or token.key in _WORD_GIVEN_NAMES)
        and _AFTER_GIVEN_NAME.match(text, token.end) is not None
    )


# given names that are English words and that the name lists lack (US birth-name tables
# have them all among their thousand most common)
_WORD_GIVEN_NAMES = frozenset(
    "hope patience charity mercy ruby pearl amber april june autumn honor sunny".split()
)


def _capitalised_word_as_name(token: _Token) -> bool:
    """A capitalised word, not in capitals, that is no clinical word, month or weekday."""
    from clinflow.deid.text.lexicon import MONTHS, WEEKDAYS

    return (
        token.capitalised
        and not token.all_caps
        and not token.initial
        and len(token.text) >= 3
        and token.key not in _clinical()
        and token.key not in never_after_cue() - _function_words()
        and token.text not in MONTHS
        and token.text not in WEEKDAYS
        and not brand_or_abbreviation_shape(token.text)
    )


# drug-name endings (INN stems) and a dose right after: a capitalised unknown word that looks
# like a drug is not a name
_DRUG_STEM = regex.compile(
    r"(?:mab|nib|pril|sartan|olol|azole|cillin|mycin|floxacin|statin|prazole|tidine|dipine|"
    r"parin|xaban|gliptin|gliflozin|glutide|tide|vir|vudine|azepam|zolam|triptan|setron|"
    r"profen|fenac|oxacin|cycline|conazole|semide|thiazide|lukast|terol|sonide|asone|olone|"
    r"platin|taxel|rubicin|trexate|lamide|tinib|zumab|ximab|cept|ase|itis|osis|emia|ectomy|"
    r"otomy|plasty|scopy|gram|graphy|ology|ologist|iasis|oma|pathy|algia|uria)$",
    regex.I | regex.V0,
)


def looks_like_drug(word: str) -> bool:
    """``word`` ends like a drug or clinical term (INN stems: "-olol", "-statin", "-itis")."""
    return _DRUG_STEM.search(word.casefold()) is not None


_DOSE_AFTER = regex.compile(
    r"[ \t]*\d+(?:\.\d+)?[ \t]*(?:mg|mcg|g|mL|ml|units|u|%|mEq)\b", regex.V0
)


# "MoCA", "NovoLOG": a word ending in two capitals is an abbreviation or brand, not a name
_CAMEL_TAIL = regex.compile(r"\p{Ll}\p{Lu}{2,}$", regex.V0)
# "GlideScope", "HeartMate", "SUVmax", "FHx": a capital inside a word part (other than the
# Mc/Mac/De/La/Van... of a surname) or capitals then lower case make a brand or abbreviation
_NAME_CAMEL = regex.compile(
    r"(?:Mc|Mac|O|D|De|Di|Da|Du|Del|Della|La|Le|Lo|Van|Von|Vander|Fitz|St|San|Ben|Abu|Al|El)"
    r"\p{Lu}\p{Ll}+",
    regex.V0,
)
_VOWEL = regex.compile(
    r"[aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿāăąēĕėęěīĭįıōŏőœūŭůűų]", regex.I | regex.V0
)


_WORD_PARTS = regex.compile(r"[-'’]", regex.V0)
_CAPITALS_THEN_LOWER = regex.compile(r"\p{Lu}{2,}\p{Ll}", regex.V0)
_INNER_CAPITAL = regex.compile(r"\p{Ll}{2}\p{Lu}", regex.V0)


@lru_cache(maxsize=65536)
def brand_or_abbreviation_shape(word: str) -> bool:
    """A capitalised word whose shape is a brand, product or abbreviation rather than a
    name: an inner capital ("GlideScope"), a capital run before lower case ("SUVmax",
    "FHx"), or no vowel at all ("Hgb", "Sx")."""
    for part in _WORD_PARTS.split(word):
        if not part:
            continue
        if _CAPITALS_THEN_LOWER.match(part):
            return True
        if _INNER_CAPITAL.search(part) is not None and not _NAME_CAMEL.fullmatch(part):
            return True
    return len(word) >= 3 and _VOWEL.search(word) is None
# start of a line, a sentence, a list item or a heading's value: capitals there are grammar
_SENTENCE_START = regex.compile(r"(?:\A|[.!?:;]\s|\n)[ \t\-*•\d.)(\"']*\Z", regex.V0)


def recall_first_names(text: str, tokens: list[_Token] | None = None) -> list[NameHit]:
    """Philter-style: every capitalised word that is not English and not a safe word (nor
    shaped like a drug or a clinical term, nor followed by a dose)."""
    tokens = _tokens(text) if tokens is None else tokens
    hits: list[NameHit] = []
    safe = safe_words()
    for index, token in enumerate(tokens):
        if (
            token.text.islower()
            and len(token.text) >= 4
            and token.key in anglo_given_names()
            and token.key not in safe
            and not is_english_word(token.text)
        ):
            # lower-case notes and portal messages: "can kevin use that one?" (a lower-case
            # word is not capitalised by grammar, so a sentence start does not matter)
            hits.append((token.start, token.end, "name_recall_first", 0.45))
            continue
        if _SENTENCE_START.search(text[max(0, token.start - 12) : token.start]) and not (
            index + 1 < len(tokens)
            and _joined(text, token, tokens[index + 1])
            and (
                _is_name_word(tokens[index + 1])
                or (
                    tokens[index + 1].key in _PARTICLE_KEYS
                    and index + 2 < len(tokens)
                    and _is_name_word(tokens[index + 2])
                )
            )
        ):
            continue  # capitalised by grammar, not a name position
        if (
            token.capitalised
            and not token.all_caps
            and not _CAMEL_TAIL.search(token.text)
            and not brand_or_abbreviation_shape(token.text)
            and len(token.text) >= 3
            and token.key not in safe
            and not is_english_word(token.text)
            and _DRUG_STEM.search(token.key) is None
            and _DOSE_AFTER.match(text, token.end) is None
            and _LABEL_AFTER.match(text, token.end) is None
        ):
            hits.append((token.start, token.end, "name_recall_first", 0.45))
    return hits


# a word before "No."/"#"/"Number" is the label of a number ("Hosp No RH55", "Reg No. 4")
_LABEL_AFTER = regex.compile(r"\.?[ \t]?(?:No\b\.?|NO\b\.?|#|Number\b)[ \t]*:?[ \t]*\w", regex.V0)


_PLACE_CUE = regex.compile(
    r"\b(?:lives|living|lived|resides|residing|resident|moved|relocated|born|raised|grew\s+up|"
    r"visiting|visited|vacation(?:ed|ing)?|travel(?:ed|led|ing)?|trip|flew|emigrated|immigrated|"
    r"transferred|home|hometown|native)\s+(?:back\s+)?(?:in|to|from|of|at)\s+(?:the\s+)?"
    # a few words between the verb and its place, within the sentence: "lives alone in",
    # "lives with his wife Beatrix in", "moved last year to"; and an occasion's place:
    # "a wedding in", "the tournament in", "urgent care in"
    r"|\b(?:lives|living|lived|resides|residing|moved|relocated|stays|staying|stayed)"
    r"(?:[ \t]+(?!(?:in|to|from|near|at)\b)[\p{L}'’-]+){1,5}?[ \t]+(?:in|to|near|outside)[ \t]+"
    r"|\b(?:wedding|funeral|tournament|reunion|graduation|holiday|vacation|urgent\s+care|"
    r"camp|cruise|conference|school|college|church|job|work|farm|ranch)s?[ \t]+"
    r"(?:in|near|outside)[ \t]+|\b(?:trip|drive|flight|move|moving)[ \t]+(?:to|from)[ \t]+"
    # a relative's or a care site's town: "close to son in Gleason", "dad is in X",
    # "Marrow Creek Pharmacy in Gleason"
    r"|\b(?:son|daughter|dad|mom|mother|father|brother|sister|wife|husband|parents|family|"
    r"grandson|granddaughter|grandparents|aunt|uncle|niece|nephew|cousin|friends?|"
    r"pharmacy|clinic|hospital|practice|facility)"
    # (the relative's own name between: "sister Folake Adeyemo in Atlanta")
    r"(?:[ \t]+(?-i:\p{Lu})[\p{L}'’-]+){0,3}(?:[ \t]+(?:is|are|lives|live|who[ \t]+lives))?"
    r"[ \t]+(?:in|near|outside)[ \t]+"
    # where someone was a child: "as a child in Thessaloniki"
    r"|\bas[ \t]+an?[ \t]+(?:child|kid|boy|girl|teen|teenager|young[ \t]+(?:man|woman))"
    r"[ \t]+(?:in|near)[ \t]+",
    regex.I | regex.V0,
)


_PLACE_CUE_LOOSE = (
    "lives ", "living ", "lived ", "resides ", "residing ", "moved ", "relocated ", "stay",
)


def _phrases_at(text: str, tokens: list[_Token], at: int) -> Iterator[tuple[int, str]]:
    """The phrases of 3, 2 and 1 joined words starting at token ``at``, longest first:
    ``(index of the last token, the words joined by single spaces)``."""
    for width in (3, 2, 1):
        last = at + width - 1
        if last < len(tokens) and all(
            _joined(text, tokens[i], tokens[i + 1]) for i in range(at, last)
        ):
            yield last, " ".join(text[tokens[at].start : tokens[last].end].split())


# five digits, or four after a comma (not a 24-hour time heading a log line: "0112  Anan")
_CODE_BEFORE_CITY = regex.compile(
    r"(?:(?<![\w/.-])\d{5}|(?<=,[ \t]?)\d{4})(?=[ \t]+\Z)", regex.V0
)
_PLACE_PREPOSITION = regex.compile(r"\b(?:in|from|near|to|outside|around|of)[ \t]+", regex.V0)
_PLACE_PREPOSITION_ANY_CASE = regex.compile(
    r"\b(?:in|from|near|outside|around|at|to)[ \t]+", regex.I | regex.V0
)
_AFTER_COMMA = regex.compile(r",[ \t]*\Z", regex.V0)
_COUNTRY_IN_ADDRESS = regex.compile(
    # after a comma, or on its own line after a postcode (digits, UK, Canadian)
    r"(?:(?P<comma>,)[ \t]*|(?:\d{3,}|\b[A-Z]{1,2}\d[A-Z0-9]?[ ]\d[A-Z]{2}|"
    r"\b[A-Z]\d[A-Z][ ]?\d[A-Z]\d)[ \t]*\n[ \t]*)(?P<phi>(?:[Tt]he[ \t]+)?)\Z",
    regex.V0,
)
_LINE_END = regex.compile(r"[ \t]*(?:\n|\Z)", regex.V0)
# (not the codes that are English words in lower case: "id", "in", "la", "me", "or", "de")
_LOWER_STATE = regex.compile(
    rf",?[ \t]{{1,2}}({state_codes(excluding='ID IN LA ME OR DE PR', lower=True)})\b(?![\w-])",
    regex.V0,
)
# (not the credentials "MD" and "PA" after a name-like town: "Jackson, MD")
_STATE_AFTER_CITY = regex.compile(
    rf",?[ \t]{{1,2}}({state_codes(excluding='MD PA PR')})"
    r"(?![\w'’-]|\.\w)(?=[ \t]*(?:$|[,.;:)]|\d{5})|[ \t](?:in|on|at|from|to|and|normally|"
    r"since|until|area|native|resident)\b)",
    regex.V0 | regex.M,
)
NAME_PARTICLE_WORDS = frozenset("el la le los las san santa st saint de del da do des".split())


def place_names(text: str, tokens: list[_Token] | None = None) -> list[NameHit]:
    """Countries by name (Faker's list) and places after "lives in", "moved to", "from"."""
    from clinflow.deid.text.lexicon import countries

    tokens = _tokens(text) if tokens is None else tokens
    known_countries = countries()
    cities = city_names()
    hits: list[NameHit] = []
    for index, token in enumerate(tokens):
        if not token.capitalised:
            continue
        for width in (3, 2, 1):
            last = index + width - 1
            if last >= len(tokens):
                continue
            if width > 1 and not all(
                _joined(text, tokens[i], tokens[i + 1]) for i in range(index, last)
            ):
                continue
            phrase = " ".join(text[token.start : tokens[last].end].casefold().split())
            if phrase in known_countries:
                # a country is PHI inside an address ("Abu Dhabi, United Arab Emirates"), not
                # in "flew to the Netherlands" or "born in Peru"; a town of a country's name has
                # its state after it ("in Lebanon, VA", "Peru, IN")
                if (state := _STATE_AFTER_CITY.match(text, tokens[last].end)) is not None and (
                    text.startswith(",", tokens[last].end)
                ):
                    hits.append((token.start, tokens[last].end, "place_country_town", 0.55))
                    hits.append((state.start(1), state.end(1), "place_state", 0.55))
                elif _AFTER_COMMA.search(text, 0, token.start) is not None:
                    hits.append((token.start, tokens[last].end, "place_country", 0.6))
                elif (the := _COUNTRY_IN_ADDRESS.search(text, 0, token.start)) is not None and (
                    the.group("comma") or _LINE_END.match(text, tokens[last].end)
                ):
                    # "Amsterdam, the Netherlands"; an address block's last line after a
                    # postcode ("SW1A 1AA\nUnited Kingdom")
                    hits.append((the.start("phi"), tokens[last].end, "place_country", 0.6))
                break
            if (
                phrase in cities
                and not token.all_caps
                and not _CAMEL_TAIL.search(tokens[last].text)
                and phrase not in safe_words()
                and (
                    width > 1
                    or not is_english_word(token.text)
                    or token.key in noun_only_words()  # WordNet's proper nouns: "Cambridge"
                )
            ):
                hits.append((token.start, tokens[last].end, "place_city", 0.55))
                # a postcode written before the city ("10115 Berlin", "75004 Paris")
                code = _CODE_BEFORE_CITY.search(text, max(0, token.start - 12), token.start)
                if code is not None:
                    hits.append((code.start(), code.end(), "place_postcode", 0.55))
                break
    starts = {t.start: i for i, t in enumerate(tokens)}
    for match in _PLACE_PREPOSITION.finditer(text):
        at = starts.get(match.end())
        if at is None or not tokens[at].capitalised or tokens[at].all_caps:
            continue
        for last, phrase in _phrases_at(text, tokens, at):
            if phrase.casefold() in cities and phrase.casefold() not in safe_words():
                hits.append((tokens[at].start, tokens[last].end, "place_city", 0.55))
                break
    for match in _PLACE_PREPOSITION_ANY_CASE.finditer(text):
        at = starts.get(match.end())
        if at is None:
            continue
        if tokens[at].all_caps and match.group().isupper():
            # notes typed in capitals: "DRIVING FROM INDIANAPOLIS", "WORKS IN TUCSON"; a
            # listed city of five letters or more whose words are no English words (or
            # WordNet's proper nouns: "SACRAMENTO") nor clinical ones
            for last, phrase in _phrases_at(text, tokens, at):
                words = tokens[at : last + 1]
                # (a city of two or three words, "IN BATON ROUGE", "FROM SAN ANTONIO", needs
                # one word of them no English word or a noun only, and none clinical)
                several = last > at
                if (
                    phrase.casefold() in cities
                    and (len(tokens[at].text) >= 5 or several)
                    and all(
                        t.all_caps
                        and (
                            several
                            or not is_english_word(t.text)
                            or t.key in noun_only_words()
                        )
                        and t.key not in _clinical()
                        and not t.key.endswith("ing")  # "FROM READING THE CHART"
                        for t in words
                    )
                    and (
                        not several
                        or any(
                            not is_english_word(t.text) or t.key in noun_only_words()
                            for t in words
                        )
                    )
                    and phrase.casefold() not in safe_words()
                ):
                    hits.append((tokens[at].start, tokens[last].end, "place_city_capitals", 0.55))
                    break
            continue
        if tokens[at].capitalised:
            continue
        # lower-case notes: "lives in dracut", "from el paso, tx", "in manchester nh"
        for last, phrase in _phrases_at(text, tokens, at):
            words = tokens[at : last + 1]
            if (
                phrase in cities
                and phrase not in safe_words()
                and all(
                    not is_english_word(t.text)
                    or t.key in NAME_PARTICLE_WORDS
                    or t.key in noun_only_words()
                    for t in words
                )
                and not all(t.key in NAME_PARTICLE_WORDS for t in words)
            ):
                hits.append((tokens[at].start, tokens[last].end, "place_city", 0.55))
                state = _LOWER_STATE.match(text, tokens[last].end)
                if state is not None:
                    hits.append((state.start(1), state.end(1), "place_state", 0.55))
                break
    for match in _PLACE_CUE.finditer(text):
        at = starts.get(match.end())
        if at is None:
            continue
        count = 0
        while at + count < len(tokens) and count < 3:
            token = tokens[at + count]
            if count and not _joined(text, tokens[at + count - 1], token):
                break
            if not token.capitalised or token.key in safe_words() or token.initial:
                break
            count += 1
        if not count:
            continue
        phrase = " ".join(text[tokens[at].start : tokens[at + count - 1].end].split())
        if match.group().casefold().startswith(_PLACE_CUE_LOOSE) and any(
            t.key in INSTITUTION_WORDS or t.key.endswith("-speaking")
            for t in tokens[at : at + count]
        ):
            continue  # "lives with husband in Assisted Living": a kind of home, no place
        if phrase.casefold() not in countries():  # "born in Peru" is no PHI
            hits.append((tokens[at].start, tokens[at + count - 1].end, "place_context", 0.6))
    hits.extend(_geographic_towns(text, tokens))
    # a town's state code after it ("Concord NH normally", "Eugene OR\n"); not a credential
    # ("Jackson, MD" may be a doctor: MD, DO and PA are no state here)
    for _start, end, source, _score in list(hits):
        if source in ("place_city", "place_context"):
            state = _STATE_AFTER_CITY.match(text, end)
            if state is not None:
                hits.append((state.start(1), state.end(1), "place_state", 0.55))
    # MD or PA after a listed town that an address or a bracket closes ("(Easton, MD)",
    # "Baltimore, MD, USA", "Bel Air, MD 21014"): Maryland and Pennsylvania, not credentials
    for match in _MD_PA_AFTER_TOWN.finditer(text):
        if match.group("town").casefold() in city_names():
            hits.append((match.start("town"), match.end("town"), "place_city", 0.55))
            hits.append((match.start("state"), match.end("state"), "place_state", 0.55))
    # a letterhead's town and state after its care site, closing the line ("Siletz Community
    # Health Clinic, Siletz OR", "Acadia Hospital OTP, Bangor ME"), whatever lists hold the
    # town; a form's "State: AZ"; a village or town by its label ("Home village: Akiachak")
    for match in _TOWN_STATE_AFTER_SITE.finditer(text):
        hits.append((match.start("town"), match.end("town"), "place_city", 0.55))
        hits.append((match.start("state"), match.end("state"), "place_state", 0.55))
    for match in _LABELLED_PLACE.finditer(text):
        source = "place_state" if match.group("state") else "place_city"
        hits.append((*match.span("place"), source, 0.55))
    return hits


_TOWN_STATE_AFTER_SITE = regex.compile(
    r"(?m)\b(?:Health|Clinic|Hospital|Center|Centre|Medical|Services|OTP|Program|Pharmacy)"
    r"(?:[ \t]\p{Lu}[\p{L}'’-]*){0,2},[ \t](?P<town>\p{Lu}\p{Ll}+(?:[ \t]\p{Lu}\p{Ll}+)?)[ \t]"
    rf"(?P<state>{state_codes()})(?=[ \t]*$)",
    regex.V0,
)
_LABELLED_PLACE = regex.compile(
    r"\b(?:(?i:home[ \t]+)?(?i:village|hometown|town)|(?P<state>State))[ \t]*:[ \t]*"
    r"(?P<place>(?(state)(?:"
    + state_codes()
    + r")\b|\p{Lu}\p{Ll}+(?:[ \t]\p{Lu}\p{Ll}+)?))",
    regex.V0,
)


_MD_PA_AFTER_TOWN = regex.compile(
    r"(?:\(|,[ \t])(?P<town>\p{Lu}\p{Ll}+(?:[ \t]\p{Lu}\p{Ll}+)?),[ \t](?P<state>MD|PA)"
    r"(?=\)|,[ \t]*(?:USA|U\.S\.A?\.?|United[ \t]States)\b|[ \t]+\d{5}(?!\d))",
    regex.V0,
)


# a town named by a proper word and its geographic head ("Saltery Point", "Brannock Falls")
# or prefix ("Port Veyden", "Fort Kessock"): the proper word is what no list holds
_GEO_HEAD = regex.compile(
    r"[ \t](?:Point|Falls|Springs|Harbou?r|Bay|Sound|Creek|Island|Landing|Crossing|Junction|"
    r"Ridge|Hollow|Rapids|Bluff|Cove|Inlet|Narrows|Flats|Butte|Gap|Mills?)(?![\p{L}\d'’-])",
    regex.V0,
)
_GEO_PREFIX = regex.compile(
    r"(?<![\p{L}\d'’-])(?:Port|Fort|Ft\.|Mount|Mt\.|Lake|Glen|Cape)[ \t]\Z", regex.V0
)


def _proper_word(token: _Token) -> bool:
    """A word no list explains: no English word (WordNet's proper nouns allowed), and no
    safe, clinical or drug word or brand shape ("Braden", "Trigger", "Creon")."""
    return (
        (not is_english_word(token.text) or token.key in noun_only_words())
        and token.key not in safe_words()  # scores and eponyms: "on Braden 14"
        and token.key not in _clinical()
        and not looks_like_drug(token.text)
        and not brand_or_abbreviation_shape(token.text)
    )


def _geographic_towns(text: str, tokens: list[_Token]) -> list[NameHit]:
    """"Saltery Point", "Port Veyden": a capitalised word that is no English, clinical,
    safe or drug word, with a geographic head after it or a prefix before it."""
    hits: list[NameHit] = []
    for token in tokens:
        if (
            not token.capitalised
            or token.all_caps
            or len(token.text) < 4
            or not _proper_word(token)
        ):
            continue
        if (head := _GEO_HEAD.match(text, token.end)) is not None:
            hits.append((token.start, head.end(), "place_geographic", 0.55))
        elif (prefix := _GEO_PREFIX.search(text, max(0, token.start - 6), token.start)) is not None:
            hits.append((prefix.start(), token.end, "place_geographic", 0.55))
    # after a preposition mid-sentence even ordinary words with a town's head make a town:
    # "picks up in Tuba City", "works nights in Cold Spring", "on Pensacola Beach", "working
    # on the Big Island" (not a care site: "at Spring Valley Hospital")
    for match in _TOWN_AFTER_PREPOSITION.finditer(text):
        words = match.group("words").casefold().split()
        if not any(w in _clinical() or w in INSTITUTION_WORDS for w in words):
            hits.append((match.start("words"), match.end(), "place_geographic", 0.55))
    return hits


_TOWN_AFTER_PREPOSITION = regex.compile(
    r"(?<=\b(?:in|from|to|near|at|on|outside)[ \t]+(?:the[ \t]+)?)"
    r"(?P<words>\p{Lu}\p{Ll}{2,}(?:[ \t]\p{Lu}\p{Ll}{2,})?)[ \t]"
    r"(?:City|Springs?|Beach|Island|Falls|Harbou?r|Creek|Valley|Heights)(?![\p{L}\d'’-])"
    r"(?![ \t]+(?i:hospital|medical|clinic|health|school|elementary|middle|high|college|"
    r"university|center|centre|memorial|regional|community|family|campus|rehab|nursing|"
    r"pharmacy|urgent|care|imaging|surgery|surgical|dialysis|hospice|house|home|manor|lodge)\b)",
    regex.V0,
)


# Words that make a capitalised phrase an institution ("Brookhaven Pavilion of Fairmont")
INSTITUTION_WORDS = frozenset(
    """
hospital hospitals medical health healthcare clinic clinics center centre centers institute
rehab rehabilitation nursing care hospice pavilion campus infirmary sanatorium memorial
general regional community university college school foundation associates partners group
practice practices service services system systems network alliance home homes manor house village
residence lodge gardens commons pharmacy laboratories labs laboratory imaging radiology
dialysis surgery surgical ambulatory outpatient specialty children's women's veterans va
saint st mount mt healthplex polyclinic wellness physicians doctors consultants specialists
llc pllc pc inc ltd corp llp apothecary drug drugs chemist dispensary
cardiology cardiovascular oncology orthopedics orthopaedics orthopedic pediatrics pediatric
neurology dermatology urology gastroenterology obstetrics gynecology psychiatry psychiatric
behavioral medicine dental eye vision spine heart cancer kidney vein sleep pain senior living
assisted skilled transitional recovery treatment counseling therapy retirement residential
primary urgent family women children kids pulmonary endocrine rheumatology allergy ent
foot ankle hand joint sports bone ear nose throat skin breast fertility wound vascular
endoscopy hearing audiology podiatry chiropractic physiotherapy physio detox methadone otp
opioid addiction program programme clinique hôpital hopital médicale medicale santé sante
church chapel parish temple mosque synagogue cathedral masjid gurdwara ministries inn shelter
royal renal pathology diagnostics supply supplies elementary intermediate academy kindergarten
preschool jail prison correctional penitentiary clínica clinica centro salud farmacia
cmht cmhc chc fqhc clsc gmf chsld snf ltc private rescue ambulance paramedics
cboc vamc lab transport annex authority trust
""".split()
)
_CONNECTORS = frozenset({"of", "the", "and", "for", "at", "on"})
# words that make a unit or service, not an institution's proper name
_GENERIC_FACILITY = frozenset(
    """
intensive critical acute chronic step down step-down long-term long term short inpatient unit
department dept division service services floor ward wing emergency internal general family
primary urgent physical occupational speech social mental behavioral public preventive sports
palliative supportive respiratory cardiac cardiothoracic neonatal pediatric adult geriatric
medical surgical clinical outpatient day night evening weekend main north south east west
new old upper lower first second third center centre program team office room suite bay
""".split()
)
_HEADING_AFTER = regex.compile(r"[ \t]*:", regex.V0)  # "Medical Decision Making:"
_FACILITY_JOIN = regex.compile(r"[ \t]{1,2}(?:&[ \t]{1,2})?|\.[ \t]{1,2}", regex.V0)


_FACILITY_ABBREVIATIONS = frozenset(
    "univ hosp mass gen mem inst natl nat'l assoc dept comm reg med ctr cntr intl sch coll "
    "mtn hts twp".split()
)


_ORG_SUFFIXES = frozenset(
    "group associates partners llc pllc pc inc ltd corp llp alliance network".split()
)


def _trading_name(run: list[_Token]) -> bool:
    """A practice's trading name, which may be made of ordinary words: three capitalised
    words or more ending with the form of its business after a care word, one of them no
    care, clinical or generic word ("North Star Specialty Group", "Blue Ridge Physicians
    Associates"; not "Heart Failure Support Group" or "Cardiac Rehab Group")."""
    if len(run) > 3 and run[-1].all_caps and len(run[-1].text) <= 4:
        run = run[:-1]  # its service after it: "North Star Specialty Group ENT"
    return (
        len(run) >= 3
        and all(t.capitalised for t in run)
        and run[-1].key in _ORG_SUFFIXES
        and run[-2].key in INSTITUTION_WORDS
        and any(
            t.key not in INSTITUTION_WORDS
            and t.key not in _GENERIC_FACILITY
            and t.key not in _clinical()
            and not t.abbreviation
            for t in run[:-2]
        )
    )


def _ends_sentence(token: _Token) -> bool:
    """A word before a full stop that closes a sentence rather than abbreviates: longer than
    three letters, an English word and no usual abbreviation of a care-site name."""
    return (
        len(token.text) > 3
        and token.key not in _FACILITY_ABBREVIATIONS
        and is_english_word(token.text)
    )


def facility_phrases(text: str, tokens: list[_Token] | None = None) -> list[NameHit]:
    """Capitalised multi-word phrases that hold an institution word and a proper name
    ("Brookhaven Pavilion", "Sisters of Fairmont Health"): hospitals and care facilities."""
    tokens = _tokens(text) if tokens is None else tokens
    hits: list[NameHit] = []
    index = 0
    while index < len(tokens):
        if not tokens[index].capitalised:
            index += 1
            continue
        last = index
        while (
            last + 1 < len(tokens)
            and _FACILITY_JOIN.fullmatch(text, tokens[last].end, tokens[last + 1].start)
            and (tokens[last + 1].capitalised or tokens[last + 1].text in _CONNECTORS)
            # a full stop joins only after an abbreviation ("St. Jude", "UNIV. HOSPITAL"), not
            # across sentences of a note typed in capitals ("... CLINIC. FOLLOW UP ...")
            and not (text.startswith(".", tokens[last].end) and _ends_sentence(tokens[last]))
        ):
            last += 1
        run = tokens[index : last + 1]
        while run and (run[-1].text in _CONNECTORS or not run[-1].capitalised):
            run.pop()
        trading = _trading_name(run)
        while not trading and run and (
            run[0].text in _CONNECTORS
            or (run[0].key in safe_words() and run[0].key not in INSTITUTION_WORDS)
            or (
                len(run) > 1
                and run[1].text in _CONNECTORS
                and run[0].key not in INSTITUTION_WORDS
                and is_english_word(run[0].text)
            )
        ):
            run.pop(0)  # "Seen at", "The" before the name
        capitalised = [t for t in run if t.capitalised]
        heading = bool(run) and _HEADING_AFTER.match(text, run[-1].end) is not None
        institution = any(t.key in INSTITUTION_WORDS for t in capitalised)
        proper = any(
            t.key not in INSTITUTION_WORDS
            and t.key not in safe_words()
            and t.key not in _GENERIC_FACILITY
            and not t.abbreviation
            for t in capitalised
        )
        if not heading and len(capitalised) >= 2 and institution and (proper or trading):
            hits.append((run[0].start, run[-1].end, "facility_phrase", 0.55))
        index = last + 1
    hits.extend(_lowercase_facilities(text, tokens))
    hits.extend(_named_wards(text, tokens))
    hits.extend(_care_brands(text, tokens))
    return hits


# a care business's one-word brand, its words run together with a care word among them:
# "MinuteClinic", "NexaCare", "LabNova", "DesertMed", "FastMedic", "MultiCare" (urgent
# care chains, labs, occupational-health contractors, health systems)
_CAMEL_PARTS = regex.compile(r"\p{Lu}\p{Ll}+", regex.V0)
_CAMEL_WORD = regex.compile(r"(?:\p{Lu}\p{Ll}+){2,3}", regex.V0)
_BRAND_CARE_PARTS = frozenset(
    "care med medic medical health clinic clinics lab labs path rx pharm pharmacy cure well "
    "doc docs nurse nursing heal".split()
)
# products and programs of that shape that name no care site
_CARE_BRAND_PRODUCTS = frozenset(
    "carelink mycarelink careaware healthkit medwatch medline medlineplus labview medport "
    "healthstream wellbutrin resmed neilmed medicalert synchromed pointclickcare careport "
    "carecredit narxcare trakcare insightrx dosemerx healthlink myhealth myhealthrecord "
    "healthport medride modivcare ridecare eyemed healthplan".split()
)


def _care_brands(text: str, tokens: list[_Token]) -> list[NameHit]:
    hits: list[NameHit] = []
    for index, token in enumerate(tokens):
        if _CAMEL_WORD.fullmatch(token.text) is None or token.key in _CARE_BRAND_PRODUCTS:
            continue
        if not any(p.casefold() in _BRAND_CARE_PARTS for p in _CAMEL_PARTS.findall(token.text)):
            continue
        last = index  # and the capitalised words of its name after it: "FastMedic Plus"
        while (
            last + 1 < len(tokens)
            and last - index < 2
            and text[tokens[last].end : tokens[last + 1].start] == " "
            and tokens[last + 1].capitalised
            and not tokens[last + 1].all_caps
        ):
            last += 1
        first = index  # and a capitalised word of its name before it: "Aurora MedEvac"
        if (
            index > 0
            and text[tokens[index - 1].end : token.start] == " "
            and tokens[index - 1].capitalised
            and not tokens[index - 1].all_caps
            and tokens[index - 1].key not in safe_words()
        ):
            first = index - 1
        around = text[max(0, token.start - 48) : tokens[last].end + 48]
        if _INSURANCE_CUE.search(around) is None:  # a payer's plan: "MassHealth (Medicaid)"
            hits.append((tokens[first].start, tokens[last].end, "care_brand", 0.5))
    return hits


_INSURANCE_CUE = regex.compile(
    r"\b(?i:medicaid|medicare|insurance|insurer|ins|payer|payor|plan|coverage|covered|covers|"
    r"member|eligib\w*|enroll\w*|copay|co-pay|benefits?|subscriber|policy|premium|"
    r"prior[ \t]auth\w*|formulary|managed[ \t]care|mco|hmo|ppo)\b",
    regex.V0,
)




# the last word of a care site written in lower case ("harborlight home health")
_LOWER_FACILITY_HEADS = frozenset(
    "hospital clinic health center centre program programme pharmacy hospice rehab spine "
    "practice associates vna infirmary medical chemist".split()
)
_LOWER_FACILITY_JOIN = regex.compile(r"[ \t]{1,2}(?:&[ \t]{1,2})?", regex.V0)


def _lowercase_facilities(text: str, tokens: list[_Token]) -> list[NameHit]:
    """Lower-case care sites in quick notes: 2-5 lower-case words ending with an institution
    head, holding a word that is no English word or a saint ("northgate opioid treatment
    program", "st. brendan's vascular clinic")."""
    hits: list[NameHit] = []
    for index, token in enumerate(tokens):
        if token.key not in _LOWER_FACILITY_HEADS or not token.text.islower():
            continue
        first = index
        while (
            first > 0
            and index - first < 4
            and tokens[first - 1].text[0].islower()
            and (
                _LOWER_FACILITY_JOIN.fullmatch(text, tokens[first - 1].end, tokens[first].start)
                or (  # "st. brendan's"
                    text[tokens[first - 1].end : tokens[first].start] == ". "
                    and tokens[first - 1].key in ("st", "ste")
                )
            )
        ):
            first -= 1
        run = tokens[first : index + 1]
        while run[:-1] and (run[0].key in _function_words() or run[0].key in _clinical()):
            run.pop(0)
        proper = [
            t
            for t in run[:-1]
            if t.key in ("st", "saint")
            or (
                len(t.text) >= 4
                and (not is_english_word(t.text) or t.key in city_names())
                and t.key not in safe_words()
                and _DRUG_STEM.search(t.key) is None
            )
        ]
        if len(run) >= 2 and proper:
            hits.append((run[0].start, run[-1].end, "facility_lowercase", 0.5))
    return hits


# (a wing too: "Pendle Wing", "Banksia wing")
# (a care home's halls, units and neighbourhoods are named the same way: "Cascade Hall",
# "Aspen hall", "Madrona unit", "Sunflower neighborhood")
_WARD_AFTER = regex.compile(
    r"[ \t]+(?:Ward|WARD|ward|Wing|WING|wing|Hall|hall|unit|Pavilion|neighbou?rhood)\b",
    regex.V0,
)
_ROOM_CUE = regex.compile(
    r"\b(?:Rm|Room|Bed|Suite|Apt|Unit)\b\.?:?[^\n]{0,24}\Z|\)?[ \t]{1,3}(?:Rm|Room|Bed)\b",
    regex.V0,
)
# words before "unit", "hall" that name no place ("Each unit", "City Hall", "Town Hall")
_NOT_WARD_NAMES = frozenset(
    "each every any another other which whose city town village county state concert music "
    "dining lecture study residence residential assembly entrance".split()
)
_WARD_LABEL = regex.compile(r"\bWard[ \t]*:[ \t]*", regex.I | regex.V0)
# "Ward Protea G3", "Ward Kowhai 4": a ward's name between "Ward" and its floor or code
_WARD_BEFORE_PLAIN = regex.compile(r"\bWard[ \t]+", regex.V0)
_WARD_NOT_NAMES = frozenset(
    "round rounds manager sister clerk staff nurse nurses team host hostess doctor registrar "
    "pharmacist meeting huddle based transfer level floor bed bay block room area side "
    "number no report list board".split()
)
_WARD_CODE_AFTER = regex.compile(r"[ \t]+[A-Z]?\d{1,2}[A-Z]?(?![\w/%:-]|\.\d)", regex.V0)
# a ward named by a proper word and its floor after "on", "to", "Location:" ("bed on
# Gifford 7", "report called to RN on Whitcomb 5", "Location: Ellsworth 3 (Ortho)")
_WARD_CUE_BEFORE = regex.compile(
    r"\b(?:on|to|location:|admit(?:ted)?[ \t]+to|transfer(?:red)?[ \t]+to)[ \t]+\Z",
    regex.I | regex.V0,
)
# a bed board's heading: the ward alone on its line; a room or bed number after the ward
_WARD_HEADING = regex.compile(r"[ \t]*(?:\n|\Z)", regex.V0)
_LINE_START = regex.compile(r"(?:^|\n)[ \t]*\Z", regex.V0)
_ROOM_AFTER_WARD = regex.compile(
    r"(?:,[ \t]+|[ \t]+)(?:(?:rm|room|bed)\.?[ \t]*)?\d{3,4}[A-Da-d]?(?![\w/.:-])", regex.V0
)
_WARD_FLOOR_AFTER = regex.compile(
    r"[ \t]\d{1,2}[A-Z]?(?![\w/%:-]|\.\d)(?![ \t]*(?:mg|mcg|units?|ml|%|x\b|times|hours?|hrs?|h\b|"
    r"days?|d\b|min|weeks?|wks?|months?|pts?|points?|/))",
    regex.I | regex.V0,
)


def _ward_word(token: _Token) -> bool:
    """A proper word that may name a ward before its floor ("Hallett 7"): no English,
    clinical, calendar, safe or drug word ("Braden 14", "Grade 3", "Type 2")."""
    return (
        _proper_word(token)
        and token.key not in _CALENDAR_KEYS
        and token.key not in _GENERIC_FACILITY
    )


def _named_wards(text: str, tokens: list[_Token]) -> list[NameHit]:
    """A ward named by a proper word ("Puffin Ward", "Ward: Banksia 4"), not by a direction
    or a service ("6 West", "Surgical Ward"); the name again elsewhere in the note. A word
    and floor is a ward after "on"/"to", as a bed board's heading alone on its line
    ("HALLETT 7"), or before a room number ("Mercer 5, rm 524", "Hallett 8 811A"); once one
    is, the same word before a floor is one everywhere in the note."""
    names: set[str] = set()
    floor_words: set[str] = set()
    candidates: list[tuple[_Token, int]] = []
    starts = {t.start: i for i, t in enumerate(tokens)}
    has_ward = "Ward " in text or "Ward\t" in text
    for index, token in enumerate(tokens):
        kind = _WARD_AFTER.match(text, token.end)
        before_ward = kind is not None and (
            # a care home's "unit", "hall" in lower case is one of its places only beside a
            # room or bed ("Room 117 Bed A, Madrona unit", "(Aspen hall) Rm 14-1"), not a
            # device's ("Nomad unit") nor the ward in general ("On unit", "Ambulated hall")
            not kind.group().strip().islower()
            or _ROOM_CUE.search(text, max(0, token.start - 30), token.start) is not None
            or _ROOM_CUE.match(text, kind.end()) is not None
        )
        if (
            token.capitalised
            and (not token.all_caps or len(token.text) >= 5)  # "CIWA 14" is a score
            and (floor := _WARD_FLOOR_AFTER.match(text, token.end)) is not None
            and _ward_word(token)
        ):
            candidates.append((token, floor.end()))
            if (
                not token.all_caps
                and _WARD_CUE_BEFORE.search(text, max(0, token.start - 24), token.start)
            ) or (
                _WARD_HEADING.match(text, floor.end())
                and _LINE_START.search(text, max(0, token.start - 8), token.start)
            ) or _ROOM_AFTER_WARD.match(text, floor.end()):
                floor_words.add(token.key)
        label = _WARD_LABEL.search(text, max(0, token.start - 12), token.start)
        after_label = label is not None and label.end() == token.start
        plain = (
            _WARD_BEFORE_PLAIN.search(text, max(0, token.start - 8), token.start)
            if has_ward
            else None
        )
        if (
            plain is not None
            and plain.end() == token.start
            and _WARD_CODE_AFTER.match(text, token.end) is not None
            and token.key not in _WARD_NOT_NAMES
        ):
            after_label = True
        if (
            (before_ward or after_label)
            and token.capitalised
            and not token.all_caps
            and token.key not in _GENERIC_FACILITY
            and token.key not in _clinical()
            and token.key not in INSTITUTION_WORDS
            # (not after an article; a capital "A" is a room's or bed's letter: "108-A")
            and not (
                index
                and tokens[index - 1].key in ("the", "a", "this", "same", "that")
                and tokens[index - 1].text != "A"
            )
            and token.key not in _NOT_WARD_NAMES
        ):
            names.add(token.text)
    del starts
    floors: list[NameHit] = [
        (token.start, end, "facility_ward", 0.5)
        for token, end in candidates
        if token.key in floor_words
    ]
    # the name with its "Ward"/"Wing" where written together ("Pendle Wing"), alone elsewhere
    return floors + [
        (
            t.start,
            after.end() if (after := _WARD_AFTER.match(text, t.end)) else t.end,
            "facility_ward",
            0.5,
        )
        for t in tokens
        if t.text in names
    ]


_CALENDAR_KEYS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday thursday "
    "friday saturday sunday mon tue tues wed thu thur thurs fri sat sun".split()
)

PERSON = "PERSON"
LOCATION = "LOCATION"
HOSPITAL = "HOSPITAL"

# rule name (as written in policies/text.yaml) -> (function, entity it finds)
RULES: dict[str, tuple[Any, str]] = {
    "names_dictionary": (dictionary_names, PERSON),
    "names_context": (context_names, PERSON),
    "names_recall_first": (recall_first_names, PERSON),
    "places": (place_names, LOCATION),
    "facilities": (facility_phrases, HOSPITAL),
}


# words that follow a given name without being its family name ("Grace Hospital", "Jordan
# Street", "Maria Spanish-speaking"): places, institutions and units are read elsewhere
_NOT_SURNAME = frozenset(
    "street st road rd avenue ave lane ln drive dr boulevard blvd court ct way place pl "
    "circle terrace highway hwy route parkway pkwy square trail county city town township "
    "valley creek river lake park hill hills heights springs beach island harbor harbour "
    "bay point mountain ward unit floor wing building tower hall".split()
)


def _surname_after_given(text: str, given: _Token, following: _Token, in_slot: bool) -> bool:
    """``following`` is the family name written after the given name ``given`` (a listed
    given name, or any word ``in_slot``: found in name position): one space apart,
    title-cased, and not a clinical, function, calendar, language or place word. Family
    names that are English or eponym words ("Colleen Farrow", "Darnell Pugh", "Rosalind
    Pratt") are names in this slot, though the dictionary rule never seeds them."""
    if text[given.end : following.start] != " ":
        return False
    if not in_slot and given.key not in person_names()[0]:
        return False
    word = following.text
    return (
        len(word) >= 3
        and word[0].isupper()
        and word[1:].islower()
        and following.key not in _clinical()
        and following.key not in _function_words()
        and following.key not in _CALENDAR_KEYS
        and following.key not in languages()
        and following.key not in _NOT_SURNAME
        and following.key not in INSTITUTION_WORDS
        and following.key not in _GENERIC_FACILITY
        and not looks_like_drug(word)
        # a verb starting the next clause of a title-cased line: "Hobbs Discussed", "Called"
        and not (following.key.endswith(("ed", "ing")) and is_english_word(word))
    )


# a word these found is a name by its position or shape, whatever the given-name list says
_SLOT_RECOGNIZERS = frozenset({"name_context", "name_recall_first"})


def _with_surnames(
    text: str, tokens: list[_Token], at_start: dict[int, int], hits: list[NameHit]
) -> list[NameHit]:
    """Grow each one-word name that is a given name by the family name right after it
    (``at_start``: each token's index by its start)."""
    grown: list[NameHit] = []
    for start, end, recognizer, score in hits:
        index = at_start.get(start)
        if (
            index is not None
            and tokens[index].end == end
            and index + 1 < len(tokens)
            and tokens[index].text[0].isupper()
            and _surname_after_given(
                text, tokens[index], tokens[index + 1], recognizer in _SLOT_RECOGNIZERS
            )
        ):
            end = tokens[index + 1].end
        grown.append((start, end, recognizer, score))
    return grown


def find_names(text: str, rules: Sequence[str]) -> Iterator[tuple[int, int, str, str, float]]:
    """Run the named rules (keys of ``RULES``) over one tokenisation of ``text``:
    ``(start, end, entity, recognizer, score)``; a person's given name found alone takes
    the family name written right after it."""
    if not rules:
        return
    tokens = _tokens(text)
    at_start: dict[int, int] | None = None
    for rule in rules:
        function, entity = RULES[rule]
        hits = function(text, tokens)
        if entity == PERSON:
            if at_start is None:
                at_start = {t.start: i for i, t in enumerate(tokens)}
            hits = _with_surnames(text, tokens, at_start, hits)
        for start, end, recognizer, score in hits:
            yield start, end, entity, recognizer, score
