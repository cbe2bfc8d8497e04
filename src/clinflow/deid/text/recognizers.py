"""Recognizers for free-text PHI, as presidio recognizer classes.

- ``KnownIdentifierRecognizer``: the patient's own identifiers from the structured record
  (``KnownIdentifiers``), so they are caught wherever they appear, whatever NER thinks.
- Pattern recognizers (presidio ``PatternRecognizer``): dates in many spellings, ages over 89,
  phone, e-mail, SSN, MRN/account/plan/NPI numbers after their labels, URLs, IPs, zip codes
  after a state, street addresses, hospital names, names after titles or honorifics.

Patterns use the ``regex`` module (presidio's), which allows variable-length look-behind, so a
span covers the identifier and not its label ("MRN 123" → "123").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import regex  # type: ignore[import-untyped]
from presidio_analyzer import EntityRecognizer, Pattern, PatternRecognizer, RecognizerResult

from clinflow.deid.text.known import (
    DATE,
    EMAIL,
    HOSPITAL,
    ID,
    LOCATION,
    MRN,
    PERSON,
    PHONE,
    SSN,
    KnownIdentifiers,
)
from clinflow.deid.text.lexicon import state_codes

AGE = "AGE"
URL = "URL"
IP = "IP_ADDRESS"
USERNAME = "USERNAME"
ZIP = "ZIP"

MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_PARTICLES = (
    r"(?:(?:[dD]e|[dD]el|[dD]ella|[dD]i|[dD]a|[vV]an|[vV]on|der|den|[lL]a|[lL]e|[dD]u|dos|das|"
    r"bin|ibn|al|el|ter|St\.)\s+)*"
)
_NAME_WORD = _PARTICLES + r"\p{Lu}[\p{L}'\-]+\d*"
_TITLE = r"(?:Dr|Mr|Mrs|Ms|Mx|Miss|Prof)"  # "Nurse Specialist": names.py checks the word
_TITLE_CASE_WORD = _PARTICLES + r"\p{Lu}\p{Ll}[\p{L}'\-]*\d*"


@dataclass(frozen=True, slots=True)
class PatternSpec:
    """A named pattern: the match is the PHI, or its ``phi`` group when it has one (a label
    matched before the value is cheaper than a look-behind tried at every position)."""

    name: str
    entity: str
    pattern: str
    score: float
    flags: int = 0
    # what every match starts with (a character class, or a short pattern), for patterns led
    # by look-behinds: compiled as a look-ahead before the pattern, so the look-behinds are
    # tried only where a match may start (the first character decides at most positions)
    starts: str = ""


_MONTHS_UPPER = MONTHS.upper()
_MONTH_ANY = rf"(?:{MONTHS}|{_MONTHS_UPPER})"
_MONTH_FULL = (
    r"(?:January|February|March|April|June|July|August|September|October|November|December|"
    r"JANUARY|FEBRUARY|MARCH|APRIL|JUNE|JULY|AUGUST|SEPTEMBER|OCTOBER|NOVEMBER|DECEMBER|"
    r"Jan|Feb|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|JAN|FEB|APR|JUN|JUL|AUG|SEPT?|OCT|NOV|DEC)"
)
_ORDINAL_WORD = (
    r"(?:(?:(?:twenty|thirty)[ \t-])?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|"
    r"ninth)|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|"
    r"eighteenth|nineteenth|twentieth|thirtieth)"
)
_SPOKEN_DIGIT = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
# twenty to ninety-nine said in words ("fifty-five", "seventy nine")
_TENS_WORD = (
    r"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
    r"(?:[ \t-](?:one|two|three|four|five|six|seven|eight|nine))?"
)
# a number said in words, up to ninety-nine ("oh", "twelve", "fifty-five", "seventy nine")
_NUMBER_WORD = (
    rf"(?:{_TENS_WORD}|zero|oh|one|two|three|four|five|six|seven|eight|"
    r"nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
    r"(?![\p{L}])"
)
# a 24-hour time after a month and day ("11/17 0300"), no decimal or code: no score has one
TIME_AFTER_DATE = r"[ \t]{1,2}(?:[01]\d|2[0-3])[0-5]\d(?![\d/:%-]|\.\d)"
_DATE_CUE = r"(?:on|since|from|until|till|to|through|thru|by|before|after|dated|of|DOS|DOB|date)"
_UNITS = (
    r"(?:mg|mcg|ug|µg|ml|mL|cc|g|gm|gram|grams|kg|lb|lbs|units?|IU|U|mEq|mmol|kcal|cal|cells|"
    r"copies|steps|ft|feet|m|meters|miles|km|%|/|x)"
)
_WEEKDAY = (
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
    r"MONDAY|TUESDAY|WEDNESDAY|THURSDAY|FRIDAY|SATURDAY|SUNDAY)"
)
_HOLIDAY = (
    r"(?:Christmas(?:\s+Eve|\s+Day)?|X-?mas(?:\s+Eve|\s+Day)?|Thanksgiving(?:\s+Day)?|"
    r"Easter(?:\s+(?:Sunday|Monday|weekend))?|MLK(?:\s+Jr\.?)?\s+Day|NYE|Epiphany|"
    r"(?:International|Int'?l\.?)\s+Women'?s\s+Day|Valentine'?s(?:\s+Day)?|"
    r"New\s+Year'?s(?:\s+Day|\s+Eve)?|New\s+Year\b|Memorial\s+Day|Labor\s+Day|Independence\s+Day|"
    r"Fourth\s+of\s+July|Veterans'?\s+Day|Halloween|Hanukkah|Passover|Yom\s+Kippur|"
    r"Rosh\s+Hashanah|Valentine'?s\s+Day|Mother'?s\s+Day|Father'?s\s+Day|"
    r"Presidents'?\s+Day|Columbus\s+Day|Good\s+Friday|Martin\s+Luther\s+King(?:\s+Jr\.?)?\s+Day|"
    r"(?:Chinese|Lunar)\s+New\s+Year|Diwali|Deepavali|Eid(?:\s+(?:al|ul)[-\s](?:Fitr|Adha))?|"
    r"Ramadan|Boxing\s+Day|Kwanzaa|St\.?\s+Patrick'?s\s+Day|Canada\s+Day|Australia\s+Day|"
    r"Remembrance\s+Day|Bonfire\s+Night|Mardi\s+Gras|Juneteenth|Ash\s+Wednesday|"
    r"Palm\s+Sunday|Holi|Navratri|Lohri|Pongal|Onam|Vesak|Tết|Tet|Nowruz|Hogmanay|"
    r"Thanksgiving\s+weekend|Easter\s+(?:weekend|Monday)|Christmas\s+(?:weekend|week)|"
    # the days of the dead, as Louisiana, Mexico and the Philippines keep them
    r"All\s+Saints'?(?:\s+Day)?|All\s+Souls'?(?:\s+Day)?|D[ií]a\s+de\s+(?:los\s+)?Muertos|"
    r"Candlemas|Shrove\s+Tuesday|Maundy\s+Thursday)"
)
_STATE_ABBR = f"(?:{state_codes()})"
# the states' names, written as the rules read them (any space between words) and, for
# headers and letterheads, in capitals with the provinces' ("MINNESOTA IMMUNIZATION
# INFORMATION CONNECTION", "COUNTY, MARYLAND")
_STATE_NAMES = (
    "Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia "
    "Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts "
    "Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada New_Hampshire New_Jersey "
    "New_Mexico New_York North_Carolina North_Dakota Ohio Oklahoma Oregon Pennsylvania "
    "Rhode_Island South_Carolina South_Dakota Tennessee Texas Utah Vermont Virginia Washington "
    "West_Virginia Wisconsin Wyoming Puerto_Rico"
).split()
_PROVINCE_NAMES = (
    "Ontario Quebec Alberta Manitoba Saskatchewan British_Columbia Nova_Scotia New_Brunswick"
).split()
_STATE_NAME = "(?:" + "|".join(n.replace("_", r"\s+") for n in _STATE_NAMES) + ")"
_STATE_NAME_CAPITALS = "|".join(
    n.upper().replace("_", r"[ \t]+") for n in _STATE_NAMES + _PROVINCE_NAMES
)
# dotted capitals that are no one's initials: "U.S.", "U.K.", "P.O.", "N.B."
_NOT_INITIALS = r"(?!U\.S\.|U\.K\.|P\.O\.|N\.B\.)"
_HOSPITAL_WORD = (
    r"(?:Hospital|Medical\s+Center|Med\.?\s+Ctr\.?|Medical\s+Centre|Health\s+Center|"
    r"Health\s+System|Healthcare|Health\s+Care|Health|Clinics?|Infirmary|Sanatorium|Hospice|"
    r"Rehab|Rehabilitation(?:\s+(?:Center|Hospital|Institute|Facility))?|"
    r"Nursing\s+(?:Home|Facility|Center)|Care\s+Center|Medical\s+Group|Medical\s+Associates|"
    r"Cancer\s+(?:Center|Institute)|Heart\s+Institute|Surgical\s+Center|Surgery\s+Center|"
    r"Urgent\s+Care|Family\s+Practice|Family\s+Medicine|Pediatrics|Institute|Manor|"
    r"Skilled\s+Nursing|Assisted\s+Living|Senior\s+Living|Medical\s+Campus|Home)"
)
# Alphanumeric tokens that are clinical, not identifiers (CD4 counts, CA-125, scales...).
_CLINICAL_CODES = (
    r"(?:CD\d+|CA\d+|IL\d+|HER\d|ICD\d+|SF\d+|GAD\d+|PHQ\d+|DSM\d+|MMSE\d*|MOCA\d*|BRCA\d|"
    r"COVID\d*|SARS\d*|HIV\d|HSV\d|HPV\d+|EBV\d*|CMV\d*|ECOG\d*|NYHA\d*|TNM\d*|ASA\d+|"
    r"APACHE\d*|CHADS\d*|HAS\d*|FEV\d+|FVC\d*|DLCO\d*|KCL\d+|NS\d+|LR\d+|BP\d+|HR\d+|RR\d+|"
    r"PO\d+|IV\d+|IM\d+|SQ\d+|PRN\d+|BID\d+|TID\d+|QID\d+|Q\d+H?|GCS\d+|EF\d+|CO\d+|"
    r"PCO\d+|PAO\d+|FIO\d+|SPO\d+|HCO\d+|MSO\d+|AV\d+|VT\d+|AF\d+|ST\d+|TIMI\d*|NIHSS\d*|"
    r"MELD\d*|GRACE\d*|CURB\d+|PSI\d*|BMI\d*|CPT\d*|LOINC\d*|UTI\d*|URI\d*|NSTEMI\d*|STEMI\d*)"
)

# ward_word_and_floor: words before a number that name no ward, unit words after one
_WARD_NOT = (
    r"(?!(?:Grade|Stage|Type|Class|Level|Step|Phase|Day|Week|Month|Year|Hour|POD|HD|Room|Rm|"
    r"Bed|Bay|Pod|Floor|Fl|Suite|Ste|Tower|Building|Bldg|Ward|Unit|Station|Zone|Tanner|"
    r"Mallampati|Apgars?|Gleason|GCS|Pain|Score|Lead|Lot|Page|Section|Figure|Table|Track|"
    r"Trauma|Medic|Engine|Truck|Car|Rescue|Squad|Team|Group|Cohort|Arm|Cycle|Dose|Visit|"
    r"Gravida|Para|Tele|North|South|East|West|Hwy|Highway|Route|Rt|Interstate|Box|Apt|"
    r"Channel|Line|Port|Lumen|Size|Fr|Gauge|Mobitz|Killip|NYHA|Child|Pugh|Bristol|Braden|"
    r"Morse|Fall|Risk|Tier|Priority|Acuity|Triage|ESI|Version|Model|Series|Lane|Dock|Gate|"
    r"Door|Exam|Chair|Area|Wing|Pavilion|Clinic|Center|Hall|Tube|Vial|Bag|Round|Rounds|"
    r"Shift|Pager|Ext|Extension|Option|Question|Item|Part|Problem|Number|No|Appendix|"
    r"Chapter|Psalm|Whipple|Roux|Age|Acute|Return|Mileage|Lab|Tan|Total|Count|Weight|"
    r"Height|Sum|Net|Rest|Recovery|Resus|Fast|Holding|Overflow|Obs|Cath|Angio|Bronch|Endo|"
    r"Infusion|Dialysis|Chemo|Radiation|Rad|Imaging|Procedure|Pre|Post|Op|Or|Ir|Cycle)\b)"
)
_WARD_NOT_UPPER = (
    r"(?!(?:MICU|SICU|CVICU|NICU|PICU|PACU|CCU|ICU|MRI|STEP|TYPE|STAGE|GRADE|CLASS|LEVEL|"
    r"ROOM|UNIT|WARD|TELE|FLOOR|NORTH|SOUTH|EAST|WEST|AGE|ACUTE|RETURN|PEEP|CIWA|GOLD)\b)"
)
_WARD_UNIT_WORD = (
    r"(?i:rm|room|bed|tele|telemetry|ortho|med-?surg|medicine|stroke|l&d|mother|icu|step|"
    r"oncology|onc|cardiac|rehab|post|surg|surgery|antepartum|postpartum|peds|geri|neuro|"
    r"renal|unit)"
)

# Fields of medicine a practice is named by, two at a time ("Arthritis & Rheumatology")
_FIELD = (
    r"Arthritis|Rheumatology|Diabetes|Endocrine|Endocrinology|Digestive|Liver|Kidney|"
    r"Hypertension|Heart|Vascular|Vein|Spine|Sports|Orthopa?edics|Joint|Skin|Dermatology|"
    r"Allergy|Asthma|Sinus|Ear|Nose|Throat|Eye|Retina|Vision|Lung|Sleep|Pain|Wellness|"
    r"Neurology|Neuroscience|Brain|Oncology|Hematology|Cancer|Blood|Women's\s+Health|"
    r"Fertility|Urology|Continence|Wound|Hearing|Balance|Foot|Ankle|Hand|Podiatry"
)

_FACILITY_HEAD = (
    r"(?:Hospital|Medical\s+Center|Medical\s+Centre|Med\s+Ctr|Health\s+Center|Healthcare|"
    r"(?:Rehabilitation|Rehab|Health)\s*(?:&|and)\s*(?:Nursing|Rehab|Rehabilitation|Wellness)"
    r"(?:\s+(?:Center|Home|Facility))?|"
    r"Health|General|Memorial|Regional|Rehab|Rehabilitation|Clinic|Dialysis(?:\s+Center|"
    r"\s+Unit)?|Pharmacy|Practice|Associates|Partners|Physicians|Medical\s+Group|Infirmary|"
    r"Hospice|Manor|Village|Gardens|Lodge|Nursing\s+Home|Nursing\s+Center|Care\s+Center|"
    r"Senior\s+Living|Assisted\s+Living|Institute|Center|Centre|Deaconess|Women's|Children's|"
    r"Mercy|Presbyterian|Methodist|Baptist|Lutheran|Adventist|VA|VAMC|Medical|Med|"
    r"Eye\s+and\s+Ear|Surgical|Specialty\s+Hospital|Health\s+Partners|Health\s+Alliance|"
    r"YMCA|YWCA|MedFlight|Med\s+Flight|Home\s+Companions|Elder\s+Care|Home\s+Care|"
    r"HealthCare|Recovery(?:\s+(?:Center|Centre|House|Services))?|IHS|Daycare|Day\s+Care|"
    r"Burns?\s+(?:Unit|Center|Centre)|Hyperbaric|Poison(?:\s+(?:Center|Centre|Control|Services))?|"
    r"AirCare|Air\s+Care|Child\s+Care|Youth\s+Hub|Infusion\s+(?:Suite|Center|Centre)|"
    r"Satellite\s+(?:Unit|Hemodialysis|Dialysis)|Renal\s+(?:Service|Unit)|"
    r"Birth\s+(?:Center|Centre|Ctr)|"
    # specialty practices and services by their discipline: "Central Valley ENT & Audiology",
    # "Big Sky Ear, Nose & Throat", "Red River Palliative Care Program", "Lower Hunter ACAT",
    # "Trentside OOH", "Pacific Teleradiology", "South Bay Critical Care Transport"
    r"ENT\s*&\s*(?:Audiology|Allergy)|Ear,?\s+Nose,?\s*(?:&|and)?\s*Throat(?:\s*&\s*Allergy)?|"
    r"Palliative\s+Care\s+(?:Program|Service|Team)|ACAT|OOH|Teleradiology|"
    r"Critical\s+Care\s+Transport|"
    r"Preschool|Montessori|"
    r"Fire(?:/|\s+)(?:Rescue|Dept|Department)|Rescue\s+Squad|Ambulance(?:\s+Service)?|"
    r"(?:Cardiology|Orthopedics|Orthopaedics|Oncology|Urology|Dermatology|Pediatrics|"
    r"Neurology|Gastroenterology|Radiology|Imaging|Dental|Eye|Vision|Physical\s+Therapy|"
    r"Surgery|Surgeons|Women's\s+Health|Family\s+Health|Nephrology|Pulmonary|Pulmonology|"
    r"Rheumatology|Endocrinology|Internal\s+Medicine|Primary\s+Care|Heart\s+&\s+Vascular|"
    r"Sleep\s+(?:Lab|Laboratory|Center|Centre|Clinic)|Labs|Laboratory|Laboratories)"
    r"(?:\s+(?:Associates|Group|"
    r"Partners|Specialists|Center|Clinic|Consultants))?)"
)
_FACILITY_CUE = (
    r"(?:transferred|admitted|presented|brought|discharged|sent|returned|seen|followed|"
    r"treated|evaluated|hospitali[sz]ed|stayed|works?|worked|employed|volunteers?|"
    r"delivered|born|resides|residing|placed|referred|rehab|PT|dialy[sz]es|dialysis|"
    r"OSH|outside\s+hospital|records\s+from|care\s+at|booked|nurse|midwife|physician|"
    r"pharmacist|therapist)"
)

# short words that end a log line and are no one's initials
_LOG_LINE_WORDS = (
    r"(?:am|pm|hr|hrs|min|mins|was|and|the|for|not|but|per|via|yes|all|any|due|see|now|"
    r"pt|is|on|in|at|to|of|by|no|so|up|are|had|has|him|her|his|its|our|out|off|one|two|six|"
    r"ten|ago|prn|qd|bid|tid|hs|po|iv|im|sq|sc|ok|neg|pos|nl|wnl|did|got|too|yet|new|old|"
    r"wk|wks|mo|mos|yr|yrs|day|mg|mcg|ml|tab|cap|qod|qhs|inr|dc|rx|fu|rtc|lab|cc)"
)
# words in capitals that close a table's row or column as often as initials do
_ROW_END_CAPITALS = (
    r"(?:REF|RED|AMB|YES|NO|NEW|OLD|LOW|HI|LO|OFF|ON|OUT|ADD|SEE|END|ALL|NOW|DUE|DUP|AVG|TOT|"
    r"SUM|NET|QTY|MAX|MIN|NEG|POS|NML|ABN|OK|DC|HELD|GIVEN)"
)
# the wireless handsets hospitals issue, by brand: "spectralink 5-3390", "ascom 6-2281"
_HANDSET_BRANDS = r"spectralink|ascom|vocera|cisco|zebra"
# capitals that close a line as often as a clinician's initials do: services, tests, routes,
# credentials and the usual one-word findings ("... by TQ." is initials, "... by CT." is not)
_CLOSING_CAPITALS = (
    r"(?:ED|ER|OR|ICU|CCU|IR|CT|MRI|OSH|PCP|GI|US|VA|PT|OT|ST|ME|IV|PO|ID|RT|SW|NP|MD|PA|DO|"
    r"RN|CM|EMS|MR|MS|GP|HR|AM|PM|EKG|ECG|ENT|PET|CNA|PCA|TEE|TTE|CXR|KUB|EUS|LP|EGD|ABG|VBG|"
    r"UA|CBC|BMP|CMP|CTA|MRA|XR|NG|OG|IO|SC|IM|SL|PR|DSA|EEG|EMG|NCS|FNA|HD|CRRT|PEG|PICC|"
    r"EBUS|OK|PRN|SOB|CP|HA|NAD|WNL|DNR|DNI|NPO|AMA|BID|TID|QID|QD|HS|AC|PC|LOC|ROM|BP|RR|"
    r"NKDA|UTI|URI|CHF|COPD|DM|HTN|CAD|MI|PE|DVT|AKI|CKD|ESRD|SNF|LTC|NH|RA|LE|UE|LUE|RUE|LLE|"
    r"RLE|AP|LAT|NOS|NA|N/A|TBD|ASAP|STAT|FYI|YES|NO|ALL|END|LPN|PHQ|BMI|INR|PTT|TSH|PSA|HIV|"
    r"HCV|HBV|STI|STD|OB|GYN|ICD|CPT|EOB|RX|DX|TX|HX|SX|FX|PMH|PSH|ROS|HPI|CC|AVS|DME|HHA|VNA|"
    r"PACU|IMC|MICU|SICU|NICU|PICU|TCU|OBS|LDA|CVC|AAA|ACS|TIA|CVA|RE|HLD|LAB|LABS|GERD|OSA|"
    r"BPH|MDD|PTSD|ADHD|OUD|AUD|SUD)"
)


PATTERNS: tuple[PatternSpec, ...] = (
    # ----- dates (at least as broad as presidio's DateRecognizer + spaCy DATE) ------------
    PatternSpec(
        "date_iso",
        DATE,
        r"(?<!\d)\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
        r"(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)",
        0.9,
    ),
    PatternSpec(
        "date_numeric",
        DATE,
        # both ends of a range: "04/02/2070-06/11/2070"
        r"(?:(?<![\d/-]|\d\.)|(?<=\d/\d{1,4}[-–]))\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"
        r"(?![\d/]|-(?!\d{1,2}/\d{1,2}/\d{2,4}(?![\d/]))|\.\d)",
        0.8,
    ),
    PatternSpec(
        "date_ymd_slash",
        DATE,
        r"(?<![\d/.])(?:19|20)\d{2}([/.])\d{1,2}\1\d{1,2}(?![\d/]|\.\d)"
        rf"|\b{_MONTH_ANY}[-/]\d{{1,2}}[-/](?:\d{{4}}|\d{{2}})(?![\d/-])",
        0.8,
    ),
    PatternSpec(
        # month and two-digit year, as histories and problem lists write them: "PCI 04/72",
        # "A1c 6.6 (10/88)", "echo 9/79". Only years 32-99, which cannot be a day (m/d with a
        # day is date_month_day_numeric); not "6/52" (six weeks, British), nor a Snellen
        # acuity ("6/36", "6/60"), nor a count ("3/45 nodes", "2/38 cores positive")
        "date_month_short_year",
        DATE,
        r"(?<![\d/.:,-])(?!6/(?:36|60)\b)(?:1[0-2]|0?[1-9])/(?!52\b)(?:3[2-9]|[4-9]\d)"
        r"(?![\d/]|\.\d|\s*(?:%|mg|mcg|ml|units|nodes?|lymph|LNs?|cores?|positive|pos\b|"
        r"neg\b|negative|specimens?|samples?|points?|pts?\b|correct|items?|of\b|x\b))"
        r"(?<!\b(?:score[ds]?|scale|MoCA|MMSE|SLUMS|PHQ-?\d*|GAD-?\d*|Berg|ESS|BDI|HAM-?[AD]|"
        r"total|VA|acuity|vision|Snellen|ratio|dilution|titer|titre)[ \t:]{1,3}"
        r"(?:1[0-2]|0?[1-9])/\d\d)",
        0.55,
        regex.I,
    ),
    PatternSpec(
        "date_month_slash_year",
        DATE,
        # (either end of a range: "06/2085-02/2086")
        r"(?:(?<![\d/.-])|(?<=\d{4}[-–]))(?:0?[1-9]|1[0-2])[/-](?:19|20|21)\d{2}"
        r"(?![\d/]|-(?!(?:0?[1-9]|1[0-2])/\d{4})|\.\d)",
        0.7,
    ),
    PatternSpec(
        # m/d without a year, but not a score: "5/5 strength", "pain 7/10", "murmur 2/6"
        "date_month_day_numeric",
        DATE,
        # nor a fraction: "29 2/7 wk" (weeks and days), "recall 2/3", "2/4 trials", "Pg 2/2"
        # (a decimal before it: "A1c 9.1 3/30"; a time is no fraction's whole: "11:52 10/3")
        # (a number glued to letters or "#", or a course's "day 1", is no fraction's whole:
        # "POD1 5/17", "EMB #1 6/1", "Next B12 11/20", "day 1 6/16")
        r"(?<![\d/.:-]|(?<![\d.:\p{L}#]|\b(?i:day|pod|wk|week)[ \t]?)\d{1,2}[ \t])"
        # nor a British duration ("review in 6/12", "falls in last 3/12": months, weeks, days),
        # a course's day ("day 4/5"), a limb's power ("R arm 4/5"), an interval ("obs 4/24")
        r"(?<!\b(?:day|obs|arm|arms|leg|legs|limb|limbs|UL|LL|UE|LE)[ \t]{1,2})"
        r"(?!(?<=\b(?:in|last|past|for|over|within)[ \t]{1,2})\d{1,2}/(?:12|52|7)(?!\d))"
        # (but a half or a quarter stays a fraction: "D50 1/2 amp", "Gellhorn #2 1/4")
        r"(?!(?<=[\p{L}#]\d{1,2}[ \t])(?:1/[2348]|[23]/[34]|[357]/8)(?!\d))"
        r"(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])"
        # (a day past 12 is no grade or score: "discharged 6/13 on Xarelto")
        r"(?![\d/]|\.\d|\s*(?:mg|mcg|ml|units|strength|power|pain|bilat|b/l|"
        r"(?<!/(?:1[3-9]|2\d|3[01])\s*)(?:(?:in|on)\b|\+)|"
        r"throughout|symmetric|x\s*\d(?!\s*(?:days?|d\b|nights?|weeks?|wks?))|"
        r"(?:trials?|feeds?|attempts?|items?|words?|doses?|times|sets?|reps?|correct|"
        r"bottles?|cultures?|sites?|lobes?|views?|of|wk|wks|weeks?)\b))"
        r"(?<!\b(?:strength|motor|power|pain|reflex(?:es)?|DTRs?|score|scale|murmur|grade|rated|"
        r"pulses?|GCS|MoCA|MMSE|Apgars?|tone|bulk|edema|PHQ-?\d|GAD-?\d|CAGE|recall|"
        # (an extremity's or extensor's power, not "extubated 11/19")
        r"drawing|serial|MMT|flex(?:ion)?|ext(?:ension|ensors?|remit(?:y|ies)|\b)|"
        r"abd(?:uction)?|grip|HIV)"
        r"[^\n.;]{0,24}|\b(?:pg|page|p\.)[ \t]?\d{1,2}/\d{1,2})",
        0.55,
        regex.I,
    ),
    PatternSpec(
        # a month and day after a word that only ever precedes a date, whatever score or
        # extremity word stands a little before it ("flank pain, LMP 6/12", "extension
        # approved through 7/31", "last used 5/14, expires 6/30"), and a day past 12 after a
        # value and "on" ("PHQ-9 15 on 5/30": the score has its value already)
        "date_month_day_after_date_word",
        DATE,
        # (the cue found first, consumed: a look-behind would be tried at every position)
        # (not the top of a range of scores: "strength 4/5 through 5/5")
        r"(?<!\d/\d{1,2}[ \t]+)\b(?:LMP|LNMP|EDD|EDC|DOB|DOS|DOD|D/C|until|till|thru|through|"
        r"expires?|exp\.?|effective|eff\.?)[ \t:]{1,3}"
        r"(?P<phi>(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9]))"
        r"(?![\d/]|\.\d|[ \t]*(?:mg|mcg|ml|units|trials?|items?|correct|of|x\b))"
        r"|(?:\d[ \t]+on|\bbefore|\bafter|\bby|\bfor)[ \t]+"
        r"(?P<phi>(?:1[0-2]|0?[1-9])/(?:3[01]|2\d|1[3-9]))"
        r"(?![\d/]|\.\d|[ \t]*(?:mg|mcg|ml|units|trials?|items?|correct|of|x\b))",
        0.55,
        regex.I,
    ),
    PatternSpec(
        # a day of the month said as an ordinal, as speech and ambient transcripts write it:
        # "Saturday the twentieth", "flew in on the first." (not "the first dose")
        "date_spoken_ordinal",
        DATE,
        rf"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day[ \t]+the[ \t]+{_ORDINAL_WORD}\b"
        rf"|(?<=\b(?:on|since|until|till|by|from)[ \t]+)the[ \t]+{_ORDINAL_WORD}"
        r"(?=[ \t]*[.,;!?]|[ \t]*$))",
        0.55,
        regex.I | regex.M,
    ),
    PatternSpec(
        # a month and day with its 24-hour time: "last pain 11/17 0300" (no score has a time)
        "date_month_day_before_time",
        DATE,
        rf"(?<![\d/.:-])(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])(?={TIME_AFTER_DATE})",
        0.55,
    ),
    PatternSpec(
        "date_month_day_scale_after_cue",
        DATE,
        rf"(?<=\b{_DATE_CUE}\s{{1,2}})(?:1[0-2]|0?[1-9])/(?:4|5|6|10)(?![\d/])"
        r"(?!\s*(?:trials?|feeds?|attempts?|items?|words?|doses?|times|sets?|reps?)\b)",
        0.55,
        regex.I,
    ),
    PatternSpec(
        "date_month_day_year",
        DATE,
        rf"\b{MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+(?:\d{{4}}|['’]\d{{2}})(?!\d)"
        # VistA/CPRS writes the time after an @: "OCT 08, 2077@14:22:51"
        r"(?:@\d{1,2}:?\d{2}(?::?\d{2})?(?!\d))?",
        0.9,
        regex.I,
    ),
    PatternSpec(
        # a month, "the" and an ordinal: "March the 5th, 2071", "Jan the 3rd"; a date
        # written as one number, year first: "20710304"
        "date_month_the_day",
        DATE,
        rf"\b{MONTHS}\.?[ \t]+the[ \t]+\d{{1,2}}(?:st|nd|rd|th)(?:,?[ \t]+\d{{4}}(?!\d))?"
        r"|\b(?<![.,/-])(?:19|20|21)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?![\d.,/-]\d|\d)",
        0.6,
        regex.I,
    ),
    PatternSpec(
        # a month with a range or a list of days, the year after the last: "Nov. 2-3, 2072",
        # "Feb 11-15", "September 9 and 11, 2071", "March 3, 5 & 9"
        "date_month_days",
        DATE,
        rf"\b{MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?"
        r"(?:[ \t]?[-–][ \t]?\d{1,2}(?:st|nd|rd|th)?(?!\d)"
        r"|(?:,[ \t]?|,?[ \t]+(?:and|&)[ \t]+)\d{1,2}(?:st|nd|rd|th)?(?![\d:.]|[ \t]*(?:mg|mcg|"
        r"units?|ml|mL|kg|lbs?|pm|am|%)))+"
        r"(?:,?[ \t]+(?:\d{4}|['’]\d{2})(?!\d))?",
        0.7,
        regex.I,
    ),
    PatternSpec(
        # day, month and year with the month in Spanish, Portuguese, French or Dutch:
        # "3-ene-2061", "12 déc. 2079", "4 mrt 2081", "21/ago/2070" (day and year required)
        "date_day_month_year_foreign",
        DATE,
        r"\b\d{1,2}[-/. ]{1,2}(?:ene|enero|febrero|fev|fevereiro|marzo|março|mrt|maart|abr|abril|"
        r"avr|avril|mayo|mai|mei|junio|junho|juin|juni|julio|julho|juil|juillet|juli|ago|agosto|"
        r"août|aout|augustus|septiembre|setembro|set|septembre|octubre|outubro|out|okt|"
        r"oktober|noviembre|novembro|novembre|dic|diciembre|dez|dezembro|déc|décembre|"
        r"janv|janvier|janeiro|januari|févr|février|februari|mars|enero)\.?[-/. ]{1,2}"
        r"(?:\d{4}|\d{2})(?![\d/.-])",
        0.7,
        regex.I,
    ),
    PatternSpec(
        "date_day_month_year",
        DATE,
        # (the legal form too: "this 3rd day of November, 2084")
        rf"\b\d{{1,2}}(?:(?:st|nd|rd|th)(?:\s+day)?)?(?:\s+of)?[\s-]*{MONTHS}\.?,?[\s-]*"
        r"(?:\d{4}|['’]?\d{2})"
        r"(?!\d)",
        0.9,
        regex.I,
    ),
    PatternSpec(
        "date_month_year",
        DATE,
        rf"\b{_MONTH_ANY}\.?,?[\s-]+(?:of\s+)?(?:\d{{4}}|['’]\d{{2}})(?!\d)"
        rf"|\b{_MONTH_ANY}[-/]\d{{2}}(?![\d/-])",
        0.7,
    ),
    PatternSpec(
        # a month, its day and the year after a slash, as Canadian charts write them:
        # "Dec 31/79", "Oct 13/79", "May 22/2081"
        "date_month_day_slash_year",
        DATE,
        rf"\b{_MONTH_ANY}\.?[ \t]\d{{1,2}}/(?:\d{{4}}|\d{{2}})(?![\d/])",
        0.7,
    ),
    PatternSpec(
        "date_month_day",
        DATE,
        rf"\b{_MONTH_ANY}\.?\s+\d{{1,2}}(?:st|nd|rd|th|ST|ND|RD|TH)?\b(?!,?\s*\d{{4}})"
        rf"(?!\s*{_UNITS}\b)",
        0.6,
    ),
    PatternSpec(
        "date_day_of_month",
        DATE,
        # (with "the" and a range's first day when written: "the 12th of September",
        # "2nd-3rd March")
        rf"\b(?:the\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)?[-–])?\d{{1,2}}(?:st|nd|rd|th)\s+(?:of\s+)?"
        rf"{_MONTH_ANY}\b",
        0.7,
    ),
    PatternSpec(
        "date_ordinal_day",
        DATE,
        # not an ordinal before a word ("after 4th dose", "on 2nd floor", "2nd and 3rd MCPs")
        # (with its "the": "on the 27th"; after more cues than a full date needs: "planning
        # for 5th", "-> actually 30th"; the end of a range: "closed 25th-27th")
        rf"(?:(?<=\b(?:{_DATE_CUE}|for|actually|next|last|this|closed|open)\s{{1,2}})(?:the\s+)?"
        r"|(?<=\d(?:st|nd|rd|th)[-–]))\d{1,2}(?:st|nd|rd|th)\b"
        # (a clause after the date is no counted thing: "on the 21st she rang", "on the 19th
        # for her sister's wedding")
        r"(?![ \t]+(?!(?:at|of|in|or|to|with|from|until|@|for|she|he|they|we|when|because|"
        r"but|so|as)\b)[a-z]{2,})",
        0.5,
        regex.I,
    ),
    PatternSpec(
        "date_month_name",
        DATE,
        # capital abbreviations alone are tests and records ("OCT:", "MAR review"), not months
        rf"\b(?:(?:mid|early|late|end|beginning)[- ](?:of[ ])?)?"
        rf"(?!(?:JAN|FEB|APR|JUN|JUL|AUG|SEPT?|OCT|NOV|DEC)\b){_MONTH_FULL}\b\.?",
        0.5,
    ),
    PatternSpec(
        # a month, day and year with no space after the comma, as VistA prints dates of
        # birth and lab dates: "FEB 2,2030", "Jan 14,2081"
        "date_month_day_comma_year",
        DATE,
        rf"\b{_MONTH_ANY}\.?[ \t]\d{{1,2}},\d{{4}}(?!\d)",
        0.65,
    ),
    PatternSpec(
        # a weekday written with a date is part of it: "Sun 30 Nov", "Wed 26th",
        # "Thursday 11/20/2025", "Tue, 3rd June"
        "date_weekday",
        DATE,
        rf"\b(?:{_WEEKDAY}|Mon|Tue|Tues|Wed|Weds|Thu|Thur|Thurs|Fri|Sat|Sun|MON|TUE|TUES|WED|THU|"
        rf"THUR|THURS|FRI|SAT|SUN)\.?(?:,?[ \t]{{1,2}}(?:the[ \t]+)?(?:\d{{1,2}}(?:st|nd|rd|th)"
        # an ordinal may end the sentence ("Next visit Fri 17th."), a bare number may not
        # ("Sat 92." is a saturation)
        rf"(?![\w/:-]|\.\d)|\d{{1,2}}(?![\w/:.-]|\.\d))"
        rf"|(?=,?[ \t]{{1,2}}(?:the[ \t]+)?(?:\d{{1,2}}(?:st|nd|rd|th)?\b"
        rf"|{_MONTH_ANY}\b)))",
        0.55,
    ),
    PatternSpec(
        # a weekday in Spanish before its date: "lunes 5 de mayo de 2080", "jueves 8/5",
        # "viernes 27 de junio"; a range's first day: "20 al 27 de abril de 2081"
        "date_weekday_spanish",
        DATE,
        r"\b(?i:lunes|martes|miércoles|miercoles|jueves|viernes|sábado|sabado|domingo)"
        r"(?=,?[ \t]{1,2}\d{1,2}(?:[ \t]+de[ \t]+\p{L}|/\d))"
        r"|\b\d{1,2}(?=[ \t]+al[ \t]+\d{1,2}[ \t]+de[ \t]+(?i:enero|febrero|marzo|abril|mayo|"
        r"junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre)\b)",
        0.55,
    ),
    PatternSpec(
        # a weekday in lower case (messages, quick notes) right before a numeric date:
        # "sat 12/3", "thurs 12/1"; alone it stays no PHI
        "date_weekday_lower",
        DATE,
        r"\b(?:mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun|monday|tuesday|wednesday|"
        r"thursday|friday|saturday|sunday)\.?,?(?:[ \t]{1,2}\d{1,2}/\d{1,2}(?![\d/]|\.\d)"
        # or before a day and a month in words: "tues 3rd feb 2071" (the date its own match)
        rf"|(?=[ \t]{{1,2}}\d{{1,2}}(?:st|nd|rd|th)?[ \t]+(?i:{MONTHS})\b))",
        0.55,
    ),
    PatternSpec(
        # weekdays alone (off in policies/text.yaml: not PHI under Safe Harbor) ...
        "date_weekday_alone",
        DATE,
        rf"\b{_WEEKDAY}s?\b",
        0.5,
    ),
    PatternSpec(
        # ... and their abbreviations: unambiguous ones alone, "Mon"/"Sat"/"Sun" after a cue
        "date_weekday_abbreviation",
        DATE,
        r"\b(?:Tue|Tues|Wed|Weds|Thu|Thur|Thurs|Fri|TUE|TUES|WED|THU|THUR|THURS|FRI)\b\.?"
        rf"|(?<=\b{_DATE_CUE}[ \t]{{1,2}}(?:next[ \t]|last[ \t]|this[ \t])?)"
        r"(?:Mon|Sat|Sun|MON|SAT|SUN)\b\.?",
        0.5,
    ),
    PatternSpec(
        "date_may_in_context",
        DATE,
        r"(?<=\b(?:in|on|of|since|until|during|early|late|mid|last|next|this|before|after)"
        r"[\s-]{1,2})(?:May|MAY)\b",
        0.6,
        regex.I,
    ),
    PatternSpec(
        "date_day_month",
        DATE,
        rf"(?<![\d/.-])\d{{1,2}}[-\s]{_MONTH_ANY}\b\.?",
        0.6,
    ),
    PatternSpec(
        "date_season_year",
        DATE,
        r"\b(?:(?:early|late|mid)[-\s])?(?:spring|summer|fall|autumn|winter)\s+(?:of\s+)?"
        r"(?:19|20)\d{2}\b",
        0.6,
        regex.I,
    ),
    PatternSpec(
        # a name written in Hangul or in Chinese characters inside an English note: "Mr. HA
        # SUNG-HO (하성호)", "father 王建国"
        "name_in_hangul_or_han",
        PERSON,
        r"(?<![\p{Hangul}\p{Han}])(?:\p{Hangul}{2,4}|\p{Han}{2,4})(?![\p{Hangul}\p{Han}])",
        0.5,
    ),
    PatternSpec(
        # a weekday and its day of the month: "wednesday the 13th", "tues 27th", "THURSDAY
        # 14TH NOVEMBER"
        "date_weekday_ordinal",
        DATE,
        r"\b(?:mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?"
        r"\.?,?[ \t]+(?:the[ \t]+)?\d{1,2}(?:st|nd|rd|th)\b",
        0.5,
        regex.I,
    ),
    PatternSpec(
        # a month alone where a date stands: "A1c 6.2 (May)", "ECG due May", "since August"
        # (capitalised: "may" is a verb)
        "date_month_alone",
        DATE,
        r"(?<=\b(?i:in|since|from|until|till|due|by|last|next|early|late|mid|during)[ \t]{1,2}"
        r"|\()(?:January|February|March|April|May|June|July|August|September|October|"
        r"November|December)(?=\)|[ \t]*[.,;]|[ \t]*$)",
        0.45,
        regex.M,
    ),
    PatternSpec(
        # "christmas", "Chinese New Year"; the short ones (Holi, Tet, Eid, Onam) capitalised
        "date_holiday",
        DATE,
        rf"\b(?!(?i:holi|tet|eid|onam)\b){_HOLIDAY}\b"
        r"|\b(?-i:Holi|Tet|Eid(?:[ \t]+(?i:al|ul)[- \t](?:Fitr|Adha))?|Onam)\b",
        0.5,
        regex.I,
    ),
    PatternSpec(
        # day/month without a year when the day cannot be a month (UK, Commonwealth: "23/11")
        "date_day_month_numeric",
        DATE,
        r"(?<![\d/.:-])(?!24/7\b)(?:1[3-9]|2\d|3[01])/(?:1[0-2]|0?[1-9])(?![\d/]|\.\d|\s*old\b)"
        r"(?<!(?:strength|motor|power|pain|reflex(?:es)?|DTRs?|score|scale|murmur|grade|rated|"
        r"pulses?|GCS|MoCA|MMSE|Apgars?|tone|bulk|edema|PHQ-?\d|GAD-?\d|CAGE|CGA|GA|EGA)"
        r"[^\n.;]{0,24})",
        0.55,
        regex.I,
    ),
    PatternSpec(
        # the end of a range of dates: "12/20-12/28"
        "date_range_end",
        DATE,
        r"(?<=\b\d{1,2}/\d{1,2}[ \t]?[-–][ \t]?)(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])"
        r"(?![\d/])",
        0.55,
    ),
    PatternSpec(
        # full month names in lower case alone ("back to work by january"); not may/march
        "date_month_name_lower",
        DATE,
        r"\b(?:january|february|april|june|july|august|september|october|november|december)\b",
        0.5,
    ),
    PatternSpec(
        "date_year",
        DATE,
        # (a count before it is no number it belongs to: "Shingrix x2 2082")
        # (a measurement's value before it is no count: "PSA 9.8 (prev 6.1 2080)"; a course
        # after it is no multiplier: "admitted 2079 x5 days")
        rf"(?<![\d/.,:#-]|(?<![xX.])\d\s)(?:19\d\d|20\d\d|2100)(?:['’]?s\b)?"
        rf"(?![\d/]|\.\d|,\d|\s*(?!x[ \t]?\d{{1,2}}[ \t]?(?:days?|d|wks?|weeks?|months?|mos?)\b)"
        rf"{_UNITS}(?![\p{{L}}]))"
        # a 24-hour time, not a year: "1900-0730" shifts, "in at 2100"
        r"(?<!(?:19|20|21)[0-5]\d(?=[ \t]?[-–][ \t]?(?:0\d|2[2-3])[0-5]\d\b))"
        r"(?<!(?:19|20|21)00(?=[ \t]?[-–][ \t]?\d{4}\b))"
        r"(?<!\b(?:at|@|by|until|till)[ \t]{1,2}(?:19|20|21)[0-5]\d)",
        0.5,
    ),
    PatternSpec("date_short_year", DATE, r"(?<![\w'’])['’]\d{2}(?![\d\w])", 0.5),
    # the second year of a range written short: "school year 2079-80", "in 2075-76"
    PatternSpec(
        "date_year_range_end", DATE, r"(?<=\b(?:19|20)\d\d[-–/])\d\d\b(?![-/:.]?\d)", 0.5
    ),
    PatternSpec(
        # dates spoken or spelled out (ambient transcripts): "march third", "the 3rd of
        # March", "the twenty-first of June", "nineteen fifty-two", "two thousand and three"
        "date_spelled",
        DATE,
        rf"\b{_MONTH_ANY}[ \t]+(?:the[ \t]+)?{_ORDINAL_WORD}\b"
        rf"|\b(?:the[ \t]+)?{_ORDINAL_WORD}[ \t]+of[ \t]+{_MONTH_ANY}\b"
        r"|\b(?:nineteen|twenty)[ \t-](?:hundred|oh[ \t-](?:one|two|three|four|five|six|seven|"
        r"eight|nine)|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|"
        rf"nineteen|{_TENS_WORD})\b"
        r"|\btwo[ \t]thousand(?:[ \t]and)?(?:[ \t-](?:one|two|three|four|five|six|seven|eight|"
        r"nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|"
        rf"nineteen|{_TENS_WORD}))?\b",
        0.55,
        regex.I,
    ),
    # ----- ages --------------------------------------------------------------------------
    PatternSpec(
        "age_over_89",
        AGE,
        r"(?<![\d.])(?:9\d|1[0-2]\d)(?=\s*-?\s*(?:years?|yrs?|yr\b|y\b|y\.?\s?o\.?|y/o|yo|-year|"
        r"year-old|[MF]\b|(?:male|female|man|woman|gentleman|lady|M|F)\b))"
        r"|(?<=\b(?:male|female|man|woman|M|F),?[ \t]{1,2})(?:9\d|1[0-2]\d)(?![\d.%])"
        r"|(?<=\b(?:aged?|age\s+of|age:|in\s+(?:his|her|their)|turned|turning|turns)\s{1,3})"
        r"(?:9\d|1[0-2]\d)(?:['’]?s)?(?!\d)"
        r"|(?<=\bI(?:\s+am|'m|’m)\s{1,2})(?:9\d|1[0-2]\d)(?![\d.%])"
        # right after the patient's word, bare or in brackets: "Pt 92, lives alone", "Pt (91)"
        r"|(?<=\b(?:[Pp]t|[Pp]atient|PT)[ \t]\(?)(?:9\d|1[01]\d)(?=\)|[ \t]*[,;])"
        r"|(?<=\b(?:[Pp]t|[Pp]atient)[ \t]+is[ \t]+)(?:9\d|1[01]\d)(?=[ \t]*[,;)]|\.(?!\d)|"
        r"[ \t]+(?:and|now|today|but|with|lives|yo|y/o)\b)"
        # between commas after a name or a bracket ("his mother (Parvaneh), 91, on speaker"),
        # after an age's label and colon ("age on admission face sheet: 90"), "im 90"
        r"|(?<=(?:\p{Lu}[\p{L}'’-]+|\)),[ \t])(?:9\d|1[01]\d)(?=,[ \t]+\p{L})"
        r"|(?<=\b[Aa]ge\b[^\n.:;]{0,40}:[ \t]{0,2})(?:9\d|1[01]\d)(?![\d.%/])"
        r"|(?<=\b(?:im|i\s+am|Im)[ \t]{1,2})(?:9\d|1[01]\d)(?![\d.%/]|[ \t]*(?:%|mg|kg|lbs?))"
        # "her mother, who is 91,", "she's 93 now"
        r"|(?<=\b(?:who\s+is|who's|who’s|is\s+now|she's|he's|she’s|he’s|shes|hes)\s{1,2})"
        r"(?:9\d|1[0-2]\d)(?![\d.%/]|\s*(?:%|mg|kg|lbs?|bpm|mm|cm|min|percent|kg|F\b|°))"
        r"|(?<=\b\p{Lu}[\p{L}'’-]+,[ \t]{1,2})(?:9\d|1[01]\d)(?=[ \t]*(?:,|;|\(|yo\b|y/o|y\b))"
        # a birthday over 89: "her 93rd birthday", "wished him happy 92nd"
        r"|\b(?:9\d|1[01]\d)(?=(?:st|nd|rd|th)\b(?:[ \t]+birthday)?)(?<=(?:happy|her|his|their)"
        r"[ \t]+\d\d\d?)|\b(?:9\d|1[01]\d)(?=(?:st|nd|rd|th)[ \t]+birthday\b)"
        # the age someone died at: "died May 3 at 94", "passed away in 2071 aged 96"; or is
        # still living at: "alive at 93"
        r"|(?<=\b(?:died|passed\s+away|passed|death|alive|living)\b[^\n.;]{0,30}?\b(?:at|aged)"
        r"[ \t])"
        r"(?:9\d|1[01]\d)(?![\d%/]|\.\d|[ \t]*(?:kg|lbs?|mg|mm|cm|bpm|F\b|°|percent))"
        # "At 91 she elected against chemotherapy"
        r"|(?<=\bAt[ \t])(?:9\d|1[01]\d)(?=,?[ \t]+(?:she|he|they)\b)"
        # "age (94)"; in Spanish, "Edad: 92 años", "tengo 93 años"
        r"|(?<=\bage[ \t]\()(?:9\d|1[01]\d)(?=\))"
        r"|\b(?:9\d|1[01]\d)(?=[ \t]+años\b)"
        # a birthday written short: "100th bday", "101st b-day"
        r"|\b(?:9\d|1[01]\d)(?=(?:st|nd|rd|th)[ \t]+b-?day\b)"
        r"|\b(?:nonagenarian|centenarian|ninety|one\s+hundred)(?:(?:\s+and)?[-\s](?:one|two|"
        r"three|four|five|six|seven|eight|nine))?(?=[-\s](?:years?|yo|y/o|-year)|\b)",
        0.85,
        regex.I,
    ),
    PatternSpec(
        # every stated age (annotated as PHI in i2b2-style sets); replacement keeps <= 89
        "age_any",
        AGE,
        r"(?<![\d.])(?<!\b(?:for|x|over|past|last|in|after|within|about|approximately|"
        r"nearly|almost|around|than|since|of|to|and|or|-)\s{1,3})"
        r"\d{1,3}(?=\s*-?\s*(?:years?|yrs?|y\.?o\.?\b|y/o|yo\b|-year|year-old|"
        r"month-old|months?\s+old|weeks?\s+old|[MF]\b))"
        r"|(?<=\b(?:aged?|age\s+of|age:)\s{1,3})\d{1,3}(?!\d)",
        0.6,
        regex.I,
    ),
    # ----- contact -----------------------------------------------------------------------
    PatternSpec(
        "phone",
        PHONE,
        r"(?<![\w+])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s./-]?\d{3}[\s.-]?\d{4}(?!\d)"
        r"(?:\s*(?:x|ext\.?)\s*\d{1,5})?",
        0.75,
    ),
    PatternSpec(
        "phone_international",
        PHONE,
        r"(?<![\w+])(?:\+|00)\d{1,3}(?:\s?\(0\))?(?:[\s.-]\(?\d{1,5}\)?){2,5}(?!\d)",
        0.7,
    ),
    PatternSpec("phone_local", PHONE, r"(?<![\d/.-])\d{3}[-.]\d{4}(?![\d-]|\.\d)", 0.55),
    PatternSpec(
        # a UK or Irish number written nationally, in its groups: "01970 555 0142",
        # "0161 496 0321", "020 7946 0958", "01632 960412" (10 or 11 digits from the 0)
        "phone_uk_national",
        PHONE,
        r"(?<![\d+/.:-])0(?:\d{4}[ \t]\d{3}[ \t]\d{3,4}|\d{3}[ \t]\d{3}[ \t]\d{4}|"
        r"\d{2}[ \t]\d{4}[ \t]\d{4}|\d{4}[ \t]\d{6}|\d{3}[ \t]\d{7})(?![\d/:-]|\.\d|[ \t]\d)",
        0.6,
    ),
    PatternSpec(
        # an area code in brackets, as Australia, New Zealand, the UK and Ireland write their
        # landlines: "(02) 4921 0188", "(03) 9555 0123", "(01632) 960412", "(021) 555 0190"
        "phone_bracketed_area_code",
        PHONE,
        r"\(0\d{1,4}\)[ \t]?\d{3,4}[ \t-]?\d{3,4}(?![\d/:-]|\.\d)"
        r"(?:[ \t]*(?:x|ext\.?)[ \t]*\d{1,5}(?!\d))?",
        0.65,
        starts=r"\(",
    ),
    PatternSpec(
        # a care site named by its level or kind after its place, as African and Canadian
        # health systems write them: "Wampeewo Hill HC IV", "Gulu Road HC III", "Dakpemyili
        # CHPS", "Ekorinim PHC", "Kadel East CHU", "Escarpment Region CCAC" (not CDC or CHC:
        # "Provided CDC guidance")
        "care_site_by_level",
        HOSPITAL,
        r"\b(?:\p{Lu}[\p{L}'’-]+[ \t]){1,3}(?:HC[ \t](?:IV|III|II)\b|"
        r"CHPS|PHC|CHU|CCAC|LHIN|Dispensary|Health[ \t]Post)\b",
        0.6,
        starts=r"\p{Lu}",
    ),
    PatternSpec(
        # a Canadian province's code in an address: before a postal code ("Montréal (QC) H2G
        # 2W1", "Waterloo ON N2L 1T1"), or closing a line after a town ("Halifax NS")
        "province_code_in_address",
        LOCATION,
        r"(?<=\p{Ll}[ \t,]{1,2}\(?)(?:AB|BC|MB|NB|NL|NS|NT|NU|ON|PE|QC|SK|YT)(?=\)?[ \t]{1,3}"
        r"[A-Z]\d[A-Z][ \t]?\d[A-Z]\d\b)"
        # (a line's end only after a capitalised town: "1L NS", "r/o PE" are fluids and clots)
        r"|(?<=\b\p{Lu}\p{Ll}+,?[ \t]\(?)(?:NB|NL|NS|QC|SK|MB)(?=\)?[ \t]*(?:\n|$))",
        0.6,
        regex.M,
        starts=r"[A-Z]",
    ),
    PatternSpec(
        # a state written with its word, as Nigerian addresses do: ", Lagos State", ", Ogun
        # State" (after a comma: "Penn State" alone is a university)
        "state_with_its_word",
        LOCATION,
        r"(?<=,[ \t])\p{Lu}\p{Ll}+(?:[ -]\p{Lu}\p{Ll}+)?[ \t]State\b",
        0.55,
        starts=r"\p{Lu}",
    ),
    PatternSpec(
        # an object identifier (DICOM study and instance UIDs, OIDs): five arcs or more
        "object_identifier",
        ID,
        r"(?<!\w|\d\.)[12]\.\d{1,5}(?:\.\d{1,12}){3,}(?![\w]|\.\d)",
        0.6,
        starts=r"[12]",
    ),
    PatternSpec(
        # a registration with the council that issued it: "MDCN 98114", "KMPDC A22190",
        # "GMC 7012345", "AHPRA MED0001234567", "HPCSA MP 0412345"
        "registration_with_council",
        ID,
        # (Indian state councils: "RMC/22781"; a letter after the number: "PMDC 114872-P")
        r"(?P<phi>\b(?:MDCN|KMPDC|HPCSA|GMC|AHPRA|PMDC|SLMC|BMDC|NMC|MDC|UMDPC|RMC|DMC|MMC|KMC|"
        r"TNMC|WBMC)\b[ \t]*"
        r"(?:(?i:no|reg(?:istration)?|#)\.?)?[ \t]*:?[ \t]*[A-Z]{0,3}[ \t/-]?\d{4,10}(?!\d)"
        r"(?:-[A-Z]{1,2}\b)?)"
        # a counsellor's state licence after the credential: "LCSW  SW 0019873"
        r"|\b(?:LCSW|LICSW|LMSW|LPC|LMFT|LCPC|LMHC|CADC)[ \t]{1,3}(?P<phi>[A-Z]{1,3}[ \t]?"
        r"\d{5,10})\b",
        0.6,
    ),
    PatternSpec(
        # an ambulance's vehicle number after its label: "Vehicle: 4417", "Vehicle #2219"
        "ambulance_vehicle_number",
        ID,
        r"\b(?i:vehicle)[ \t]*(?:#|no\.?)?[ \t]*:?[ \t]*(?P<phi>\d{3,5})(?![\d/:.-])",
        0.55,
    ),
    PatternSpec(
        # a doctor's bleep in brackets after the name: "D/w med reg Dr Adebayo (4402)" (not a
        # year: "(2071)")
        "bleep_after_titled_name",
        PHONE,
        r"\b(?:Dr|Sr|Sister)\.?[ \t]+\p{Lu}[\p{L}'’-]+[ \t]"
        r"\((?P<phi>(?!19|20)\d{4}|\d{1,2}-\d{3,4})\)",
        0.6,
    ),
    PatternSpec(
        # a specimen's accession number after its label, as lab systems print it: "Accession
        # [UID]: CH 0411 22", "Acc #: SP-71-04412"
        "accession_after_label",
        ID,
        r"\b(?i:accession|acc)\b\.?(?:[ \t]*(?:\[UID\]|#|(?i:no|number|num)\.?))?[ \t]*:?[ \t]*"
        r"(?P<phi>[A-Z]{1,4}[ \t-]?\d{2,6}(?:[ \t-]\d{1,6}){0,2})(?![\w-])",
        0.6,
    ),
    PatternSpec(
        # a VA claim file number: "C-file: C 28 119 604", "C-file # 28119604"
        "va_claim_file",
        ID,
        r"\bC-?file\b[ \t]*(?:#|(?i:no|number)\.?)?[ \t]*:?[ \t]*"
        r"(?P<phi>(?:C[ \t]?)?\d{2}[ \t]?\d{3}[ \t]?\d{3,4})(?!\d)",
        0.6,
    ),
    PatternSpec(
        # a junior doctor's bleep after their grade, as UK and Australian notes sign:
        # "Mbatha FY1 #2213", "Jas Kaur, CT1, #6612", "Bleep holder SHO 5520, Reg 5501"; without
        # "#" the four digits must not read as a 24-hour time ("seen by SHO 2300")
        "bleep_after_grade",
        PHONE,
        r"\b(?:FY[12]|CT[1-3]|ST[1-8]|SHO|SpR|StR|Reg|HMO|RMO|JHO|JMO)\b,?[ \t]{1,2}"
        r"(?:#[ \t]?(?P<phi>\d{4})|(?P<phi>(?![01]\d[0-5]\d|2[0-3][0-5]\d)\d{4}))(?![\d/:.]|,\d)",
        0.6,
    ),
    PatternSpec(
        # a number dictated digit by digit ("five four one five five five oh one five seven",
        # "record s r oh four four eight two"): six digits or more, after up to three
        # spelled letters; no count, dose or range is spoken as six bare digits
        "spoken_number",
        ID,
        rf"(?<![\p{{L}}\d])(?:[a-z][ \t]){{0,3}}{_SPOKEN_DIGIT}(?:[ \t]+{_SPOKEN_DIGIT}){{5,}}"
        r"(?![\p{L}\d])",
        0.6,
        regex.I,
    ),
    PatternSpec(
        # a date of birth or a note's date spoken as numbers (speech recognition): "date of
        # birth four fourteen seventy nine", "Date oh three slash one one slash eighty five",
        # "Twelve, two, fifty-five" after "date of birth?"
        "spoken_date_after_label",
        DATE,
        r"\b(?:date[ \t]+of[ \t]+birth|d\.?o\.?b\.?|birth[ \t]?date|born(?:[ \t]+on)?|date)"
        r"[ \t]*[:,.?]?[ \t]*(?:[\p{L}'’.]+[ \t]+[\p{L}'’.]+\.[ \t]+)?"
        rf"(?P<phi>{_NUMBER_WORD}(?:(?:[ \t]+|,[ \t]*|[ \t]+(?:slash|dash)[ \t]+){_NUMBER_WORD})"
        r"{2,8})(?![\p{L}\d])",
        0.6,
        regex.I,
    ),
    PatternSpec(
        # a number spoken digit by digit after its label, four digits or more: "job number
        # eight eight four one two", "group number four four zero one", "reference number u r
        # dash nine five dash zero zero eight eight one", "m r n s c six six two"
        "spoken_digits_after_label",
        ID,
        r"\b(?:number|no|mrn|m[ \t]r[ \t]n|id|reference|ref|account|acct|group|member|"
        r"policy|job|record|chart)[ \t]*[:#]?[ \t]*"
        rf"(?P<phi>(?:[a-z][ \t]){{0,4}}(?:dash[ \t]+)?{_SPOKEN_DIGIT}"
        rf"(?:(?:[ \t]+dash)?[ \t]+{_SPOKEN_DIGIT}){{3,}})(?![\p{{L}}\d])",
        0.6,
        regex.I,
    ),
    PatternSpec(
        # the last digits of a record or phone number, said or written after "ending": "MRN
        # ending 4471", "the number ending oh one five six" (not a payment card's: "card ending
        # 4417" identifies no one)
        "digits_after_ending",
        ID,
        r"\b(?:mrn|mr|number|no\.?|phone|mobile|cell|id|ssn|social|chart|record|nhs|chi)[ \t]+"
        r"ending(?:[ \t]+in)?[ \t]*:?[ \t]*"
        rf"(?P<phi>\d{{3,6}}(?![\d/:]|\.\d)"
        rf"|{_SPOKEN_DIGIT}(?:[ \t]+{_SPOKEN_DIGIT}){{2,5}}(?![\p{{L}}\d]))",
        0.6,
        regex.I,
    ),
    PatternSpec(
        # a number typed digit by digit after its label: "job number 7 7 4 1 9 2"
        "spaced_digits_after_label",
        ID,
        r"(?<=\b(?:number|no\.?|job|id|code|record|chart|account|acct|mrn|#)[ \t:#]{1,3})"
        r"\d(?:[ \t]\d){5,}(?![\d.,/:])",
        0.6,
        regex.I,
    ),
    PatternSpec(
        "phone_short_after_cue",
        PHONE,
        r"(?<=\b(?:pager|pgr|pg|beeper|bpr|beep|bleep|page|paged|ext|x|extension|tel|telephone|"
        r"phone|ph|cell|mobile|fax|call|callback|call\s+back|number|contact|reached\s+at|"
        rf"{_HANDSET_BRANDS}|"
        # (the number may stand in parentheses: "paged (4-7732)", "pgr (#6-2209)")
        r"at)\.?\s*\(?(?:#|no\.?|num(?:ber)?)?\s*[:#]?\s{0,2})"
        rf"(?!(?<=\b(?:at|call|called|{_HANDSET_BRANDS})\s{{1,2}})"
        r"(?:[01]\d|2[0-3])[0-5]\d(?![\d:]))"
        r"(?:\d{4}[ -]\d{4}(?![\d-])|(?:\d{1,2}-)?\d{4,6}(?![\d/]|,\d|\.\d))"
        # a short hospital bleep: "bleep 622", "pgr 418"
        r"|(?=\d{3}(?![\d/:.]))"
        r"(?<=\b(?:pager|pgr|beeper|bleep|bleeped|paged)[ \t]{1,2}(?:#[ \t]?)?)\d{3}",
        0.6,
        regex.I,
    ),
    PatternSpec(
        # a team or person between the paging verb and the number: "page ortho 4-4821",
        # "bleep the reg 5512"
        "phone_paged_team",
        PHONE,
        r"\b(?:page|paged|pager|bleep|bleeped)[ \t]+(?:the[ \t]+)?[A-Za-z]{2,10}[ \t]+"
        r"(?P<phi>(?:\d{1,2}-)?\d{4,5})(?![\d/]|,\d|\.\d)",
        0.6,
        regex.I,
    ),
    PatternSpec("pager_prefixed", PHONE, r"\b[pPxX](?:\d{1,2}-)?\d{4,5}\b", 0.6),
    PatternSpec(
        # a log-in written with its Windows domain: "TAYSIDE\\kmcphee", "NHSGG\\J.Ross2"
        "username_with_domain",
        USERNAME,
        r"\b[A-Z][A-Z0-9-]{1,14}\\[A-Za-z][\w.-]{1,30}[A-Za-z0-9]",
        0.7,
    ),
    PatternSpec(
        # a VA network log-in: "VHA", the station's three letters, then letters of the name
        # ("VHAALBARCHUB", "VHASHVODUYAK"), as VistA prints who signed or scheduled
        "username_vha_network",
        USERNAME,
        r"\bVHA[A-Z]{3}[A-Z]{3,12}\b",
        0.7,
    ),
    # (the last label starts with a letter: "0.75V@0.4ms" is a pacing threshold)
    PatternSpec("email", EMAIL, r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z][\w-]*", 0.95),
    PatternSpec("url", URL, r"\bhttps?://[^\s<>\"')]+|\bwww\.[^\s<>\"')]+", 0.9, regex.I),
    PatternSpec(
        "ipv4",
        IP,
        r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)"
        r"(?!\d|\.\d)",
        0.8,
    ),
    PatternSpec(
        # a DICOM or HL7 object identifier written into a note: "study UID
        # 1.2.840.9977.20840126.3349012" (the study, and so the patient, it names)
        "object_uid",
        ID,
        r"(?<![\w.])(?:1\.2|1\.3|2\.16|2\.25)(?:\.\d+){3,}(?!\w|\.\d)",
        0.8,
    ),
    PatternSpec(
        # a Canadian health card with its version code: "OHIP: 5521 884 306 - KT"
        "health_card_version",
        ID,
        r"(?<=\b(?:OHIP|HCN|PHN|[Hh]ealth[ \t][Cc]ard)(?:[ \t]*\#|[ \t]*\(\w+\))?[ \t:#]{1,3})"
        r"\d{4}[ -]?\d{3}[ -]?\d{3}[ \t]{0,2}-?[ \t]{0,2}[A-Z]{2}(?![\w])",
        0.8,
    ),
    PatternSpec("ipv6", IP, r"(?<![\w:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])", 0.8, regex.I),
    # ----- identifiers -------------------------------------------------------------------
    PatternSpec(
        "ssn",
        SSN,
        r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)"
        r"|(?<=\b(?:SSN|SS#|Social Security(?: Number| No\.?| #)?)[:#\s]{1,4})\d{9}(?!\d)"
        # a masked SSN with its mask ("xxx-xx-6604", "###-##-4471"): the mask says what the
        # digits are, and the whole run is what the annotated notes mark
        r"|(?<![\w#*•-])[xX*#•]{3}-?[xX*#•]{2}-?\d{4}(?!\d)",
        0.85,
        regex.I,
    ),
    PatternSpec(
        # the last four of an SSN in words: "SSN on file ending 2291", "SSN (last 4): 0357",
        # "last four of SSN 8820", "social security # ends in 5521"
        "ssn_last_four",
        SSN,
        r"\b(?:SSN|SS\#|soc(?:ial)?[ \t]+sec(?:urity)?(?:[ \t]+(?:number|no\.?|\#))?)"
        r"[^\n\d]{0,40}?(?:end(?:s|ing)?|last[ \t-]?(?:4|four)(?:[ \t]+digits)?)"
        r"[^\n\d]{0,25}?(?P<phi>\d{4})(?!\d)"
        r"|\blast[ \t-]?(?:4|four)(?:[ \t]+digits)?[ \t]+(?:of[ \t]+)?(?:the[ \t]+|his[ \t]+|"
        r"her[ \t]+|their[ \t]+|pt'?s[ \t]+)?(?:SSN|SS\#|social[ \t]+security(?:[ \t]+number)?)"
        r"[ \t:#=-]{1,4}(?P<phi>\d{4})(?!\d)"
        # without the word SSN, as VA notes write it: "(last 4: 4471)", "Last4 2289", "L4 0357"
        r"|\b(?:last[ \t-]?(?:4|four)|L4)[ \t]*[:#=][ \t]*(?P<phi>\d{4})(?!\d)"
        r"|\bLast4[ \t:#=]{1,3}(?P<phi>\d{4})(?!\d)"
        # "Last 4 0276", "last four 2258", and the VA's last-name initial with the last four
        # ("last4 H6012"): four digits alone right after the words, nothing counted after them
        r"|\blast[ \t-]?(?:4|four)[ \t]{1,2}(?P<phi>[A-Z]?\d{4})(?![\d.,/:-]|[ \t]*(?:%|x\b|"
        r"times|days?|weeks?|wks?|months?|mos?|years?|yrs?|visits?|doses?|hours?|hrs?|mg|mcg|"
        r"ml|g|kg|units?|cc|steps|cal|kcal)\b)",
        0.8,
        regex.I,
    ),
    PatternSpec(
        # a state Medicaid number written with the state's code: "GA-MCD 771204598",
        # "OH-MCD 770-418-3392"
        "medicaid_with_state",
        ID,
        r"\b[A-Z]{2}-(?:MCD|MCAID|MA|CHIP)[ \t#:]{0,3}\d[\d -]{6,14}\d\b",
        0.7,
    ),
    PatternSpec(
        # a US alien registration number ("A-number"): "A#: A-219-884-306", "A 208551947"
        "alien_number",
        ID,
        r"(?<![\w-])A-?\d{3}-?\d{3}-?\d{3}(?![\w-])"
        r"|(?<=\bA(?:-?number|\#|[ \t]?No\.?)[:\s]{1,3})A?[ -]?\d{8,9}(?!\d)",
        0.7,
    ),
    PatternSpec(
        "mrn",
        MRN,
        r"\b(?:MRN|MR#|MR|Med\.?\s*Rec\.?(?:\s*(?:#|No\.?))?|Medical Record(?: Number| No\.?|"
        r" #)?|Unit\s*(?:No\.?|#|Number)|Hospital\s*(?:No\.?|#)|Hosp\s*#|Chart\s*(?:#|No\.?))"
        # (a site's letters and a space before the digits: "MRN ULMC 0077 5413")
        r"[:#\s]{1,4}(?P<phi>[A-Z]{0,4}-?\d[\dA-Z-]{2,}(?:[ ]\d{3,}(?![\d/:.]))*"
        r"|(?-i:[A-Z]{2,5})[ ]\d{3,}(?:[ ]\d{3,}(?![\d/:.]))+)",
        0.9,
        regex.I,
    ),
    PatternSpec(
        "account_id",
        ID,
        r"\b(?:account|acct|member|policy|plan|subscriber|beneficiary|license|licence|lic|"
        r"NPI|DEA|ID|certificate|cert|serial|device|badge|accession|acc|order|req|requisition|"
        r"specimen|spec|case|report|document|doc|ref|reference|encounter|enc|visit|CSN|FIN|"
        r"job|record|claim|invoice|study|exam|ticket|tracking|VIN|plate|tag|DL|passport|"
        r"insurance|group|MBI|HICN|Medicare|Medicaid|TRICARE|CHAMPVA|pacemaker|implant|lot|"
        r"model|S/N|SN|UDI|catalog|file|batch|control|confirmation|auth|authorization|voucher|medallion|"
        r"path|employee|staff|conf|chart|CLIA|folder|donor|unit\s+no|ser|serial\s+no|"
        # national and health identifiers by their names
        r"aadhaar|uidai|nric|sin|nhs|chi|nhi|ihi|urn?|medicare|mykad|curp|cpf|rut|dni|nie|"
        r"pesel|bsn|tfn|phn|hcn|ohip|ramq|emirates\s+id|iqama|cnic|nin|pps|ppsn|"
        # a phone's or radio's hardware id
        r"imei|meid|esn|iccid)"
        # ("s/n. pq-44812", "serial numbers 2291A44"; a qualifier in brackets: "Acct (acute):")
        r"(?:\s+(?:no\.?|nos\.?|numbers?|#|id|num))?(?:[ \t]*\([a-z][a-z ]{1,14}\))?"
        r"(?:[:#\s]|(?<=[a-z/])\.){1,4}"
        # "serial number is X", "serial ending in 4471", "member ID we have is X"
        r"(?:(?:(?-i:we|they)[ \t]+have[ \t]+|on[ \t]+file[ \t]+)?"
        r"(?-i:is|was|ending|ends)(?:[ \t]+in)?[ \t]{1,2})?"
        # (a spinal level after "plate" or "implant" is anatomy: "plate T10-L2")
        r"(?!(?-i:[CTLS]\d{1,2}(?:-[CTLS]?\d{1,2})?)(?![\w-]))"
        r"(?P<phi>[A-Z]{0,5}[-.]?\d(?=[\dA-Z/.-]{2,})[\dA-Z]*(?:[/.-][\dA-Z]+)*"
        # a trailing check letter in capitals only ("4471-0099 B", not "4471-0099 on")
        r"(?:[ ]\d{3,}(?![\d/:.]))*(?-i:[ ][A-Z]{1,3}(?![\w]))?"
        r"|[A-Z]{2,}\d*-?\d{3,}|[A-Z]{2,5}[ ]\d{4,}(?:-\d{1,6})*(?:[ ]\d{3,}(?![\d/:.]))*"
        r"(?-i:[ ][A-Z](?![\w]))?"
        # letters, then digit groups joined by hyphens: "KW 031-55821"
        r"|[A-Z]{1,4}[ ]\d{2,}(?:-\d{2,})+(?![\w-]))",
        0.8,
        regex.I,
    ),
    PatternSpec(
        # a licence, health-card or hospital number written with its region or register in
        # capitals and spaced digit groups: "CDL TX 441902117", "DL NV B2291 4471 88",
        # "HPCSA MP 0081234", "hosp no QB 4471 209", "HSN: 551 208 337" (five digits at least)
        "licence_spaced",
        ID,
        r"\b(?:(?-i:CDL|DL|HPCSA|HSN|PHN|NHI|GMC|MCNZ|AHPRA|MDCN|PMDC|KMPDC|SANC|IMC|MCI)"
        r"|driver'?s?[ \t]+licen[cs]e|licen[cs]e|lic|permit|member(?:ship)?"
        r"|(?:hosp(?:ital)?|health(?:[ \t]+card)?|folder|unit|file|chart|patient)"
        r"(?=[ \t]*(?:no\b|number|num\b|#)))\.?"
        r"(?:[ \t]*(?:no\.?|number|num|#))?[ \t]*[:#]?[ \t]{0,2}"
        r"(?=(?:[A-Z \t]*\d){5})"
        r"(?P<phi>(?-i:[A-Z]{1,3}[ \t][A-Z]{0,2}\d{3,}(?:[ \t]\d{2,}){0,3}(?:[ \t][A-Z](?!\w))?"
        r"|\d{3,}(?:[ \t]\d{3,}){1,3}))"
        r"(?![\w.-]|[ \t]*(?:mg|mcg|ml|mL|units?|%|x\b))",
        0.6,
        regex.I,
    ),
    PatternSpec(
        # a device's network (MAC) address: "00:1B:44:11:3A:B7"
        "mac_address",
        ID,
        r"\b(?<![:-])[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}(?![\w:-])",
        0.7,
    ),
    PatternSpec(
        "document_id",
        ID,
        # (not a span of spinal levels: "T10-T12")
        r"(?<![\w/-])(?![CTLS]\d{1,2}-[CTLS]?\d{1,2}(?![\w/-]))"
        r"[A-Z]{1,4}\d{2,}(?:[/-][A-Z]{0,3}\d{2,})+(?![\w/-])"
        r"|(?<![\w/.-])\d{3,}/\d{4,}(?![\w/])|(?<![\w/.-])\d{4,}/\d{3,}(?![\w/])"
        # letters then two or more slashed parts with digits: "IPC/2025/NV-017"
        r"|(?=[A-Z]{2,5}/)(?<![\w/-])[A-Z]{2,5}(?:/[A-Z0-9-]*\d[A-Z0-9-]*){2,}(?![\w/])",
        0.7,
    ),
    PatternSpec(
        "dictation_code",
        USERNAME,
        rf"(?<![\w/.-])(?!{_CLINICAL_CODES}(?![\w]))[A-Z]{{2,4}}\d{{2,6}}(?![\w-])",
        0.6,
    ),
    PatternSpec(
        "username_after_label",
        USERNAME,
        r"(?<=\b(?:user(?:name)?|login|log-in|user\s*id|userid|uid|screen\s*name|handle|"
        r"dictated\s+by|transcribed\s+by|transcriptionist|typist|entered\s+by|transcribed|"
        r"dictated)\s*[:#]\s*)"
        r"(?!\d)[A-Za-z][\w.-]{0,30}(?:/[A-Za-z0-9]{1,8})?"
        # a staff member's initials or login after the role that made or handled the record:
        # "Sonographer: LMR", "Technician: mcb", "Scanned by pdk", "Scribe: jt"
        r"|(?<=\b(?:sonographer|technician|technologist|tech|scribe|scribed\s+by|scanned\s+by|"
        r"verified\s+by|witnessed\s+by|performed\s+by|"
        r"recorded\s+by|charted\s+by|prepared\s+by)[ \t]*:?[ \t]{1,3})"
        r"(?!(?:none|self|same|n/?a|tbd|unk|rn|md|do|np|pa|the|and|for|with|on|at|in|to|by|dr|mr|mrs|"
        r"ms|mx|pt|via|ward|team|unit|staff|nurse|son|wife|her|his|him|them|fax|mail|post|"
        r"phone|hand|pcp|icu|ed|er|or)\b)"
        r"[A-Za-z]{2,4}(?![\w.@/-])"
        r"|(?<=\b(?:user(?:name)?|login|user\s*id|userid|account|handle|by)\s+)"
        r"[a-z][a-z._-]{1,20}\d{1,6}[a-z]*\b"
        # any handle once the note says it is one: "username is eyazzcast64"
        r"|(?<=\b(?:user[ \t]?name|login|log-in|user[ \t]?id|screen[ \t]?name|handle)"
        r"[ \t]+(?:is|was)[ \t]+)(?!\d)[A-Za-z][\w.-]{1,30}(?<![.-])"
        # a log-in written after "account" or as an in-basket: "your account tvdmolen", "via
        # fwachowski in-basket" (lower case only: "account Medicaid" is no log-in)
        r"|(?<=\b(?:your|his|her|my|the)[ \t]+(?-i:account)[ \t]+)(?-i:[a-z][a-z0-9._]{4,20})\b"
        r"|(?<=\bvia[ \t]+)(?-i:[a-z][a-z0-9._]{4,20})(?=[ \t]+in-?basket\b)"
        # the author's and the typist's initials in brackets at a signature: "(wo/tfenn)"
        r"|(?<=\((?!am/pm\))(?-i:[a-z]{2,4})/)(?-i:[a-z]{2,10})(?=\))",
        0.7,
        regex.I,
        starts=r"[A-Za-z]",
    ),
    PatternSpec(
        # a staff member's log-in after their credential, in brackets or closing the line:
        # "C. Tsinajinnie, MA (ctsina)", "T. Nguyen-Hale, LICSW  tnh" (an English word or a
        # drug there is dropped: _SHAPE_ONLY)
        "username_after_credential",
        USERNAME,
        r"(?m)(?<=\p{L}(?:,[ \t]?|[ \t]))(?:MA|CMA|RMA|RN|LPN|CNA|NP|PA|PA-C|MD|DO|EMT|MLT|MLS|"
        r"CPhT|LICSW|LCSW|MSW|LMHC|LPC|LMFT|PsyD|PhD|CRNA|RT|RRT|CCRP|CCRC|MS)"
        r"(?:[ \t]*\((?P<phi>[a-z][a-z0-9._]{2,15})\)|[ \t]{1,3}(?P<phi>[a-z]{2,4})[ \t]*$)",
        0.5,
    ),
    PatternSpec(
        # a log-in in brackets after a role or a name, as chat and message logs write their
        # authors: "MEDICAL (kbryant): Verified ...", "Recibido por: Keysha (kmontalvo)"; a
        # transcriptionist after "tr:" closing the line ("Dictated 11/18/2081  tr: ejw")
        "username_in_brackets_after_author",
        USERNAME,
        # (a role in capitals before the colon of a chat line; a name before a date or time:
        # not "Zyrtec (cetirizine) 10 mg")
        # (the bracket found first, consumed: no look-behind tried at every position)
        r"(?m)\b[A-Z]{3,}[ \t]\((?P<phi>[a-z][a-z0-9._]{4,15})\):"
        r"|\p{Lu}\p{Ll}+[ \t]\((?P<phi>[a-z][a-z0-9._]{4,15})\)(?=[ \t]+\d{1,2}[/:.]\d)"
        r"|\btr[:.][ \t]{0,2}(?P<phi>[a-z]{2,4})(?=[ \t]*$)",
        0.5,
    ),
    PatternSpec(
        # a log-in after the role or system that names it: "Operator: smedina", "Worker:
        # kbeaulieu", "covering: jbaptiste (pgr 41207)", "coach acct coach.maddie",
        # "(Epic: MDRAPER4)" (an English word there is dropped: _SHAPE_ONLY)
        "username_after_role_label",
        USERNAME,
        r"\b(?i:operator|worker|covering|acct|epic)[ \t]*:?[ \t]{1,2}"
        r"(?P<phi>[a-z][a-z0-9._]{2,19}[a-z0-9_])(?![\w@])"
        r"|\bEpic[ \t]*:[ \t]*(?P<phi>[A-Z]{3,12}\d{0,3})\b",
        0.5,
    ),
    PatternSpec(
        # a line signed with lower-case initials and a log-in: "cw/cwaltner"
        "login_after_lower_initials",
        USERNAME,
        r"(?m)^[ \t]*[a-z]{2,3}[ \t]?/[ \t]?(?P<phi>[a-z][a-z0-9._]{4,15})[ \t]*$",
        0.5,
    ),
    PatternSpec(
        # a line of two log-ins, the second with digits: "skim / sakim4"
        "login_pair_line",
        USERNAME,
        r"(?m)^[ \t]*[a-z]{2,10}[ \t]*/[ \t]*[a-z][a-z.]{1,14}\d{1,4}[ \t]*$",
        0.5,
    ),
    PatternSpec(
        # a typist after "transcribed"/"typed", before a date or the line end: "transcribed
        # pkq  2070-01-02" (label first: cheaper than a look-behind at every position)
        "username_after_transcribed",
        USERNAME,
        r"(?m)\b(?:transcribed|typed)[ \t]*[:/]?[ \t]*(?P<phi>(?!by\b|on\b|at\b)[a-z]{2,6})"
        r"(?=[ \t]+\d|[ \t]*$)",
        0.7,
        regex.I,
    ),
    PatternSpec(
        # a user id after a date or time and a comma in parentheses: "(03/12/2071, tkoval)"
        "username_stamp_dated",
        USERNAME,
        r"\(\d{1,4}[/:.-]\d{1,2}(?:[/:.-]\d{2,4})?,[ \t]?(?P<phi>[a-z][a-z0-9._]{2,15})(?=\))",
        0.5,
    ),
    PatternSpec(
        # a user id in parentheses after a time stamp: "14:30 (jquist)"; a code after " / "
        "username_stamp",
        USERNAME,
        # (not the second of a pair of genes or markers: "MLH1/PMS2")
        r"(?<=\d[ \t]?\()[a-z][a-z0-9._]{2,15}(?=\))"
        r"|(?<=/[ \t]?)(?<![A-Z]{2,5}\d{1,2}/|[A-Z]{4,5}/)[A-Z]{2,4}\d{1,6}\b",
        0.5,
    ),
    PatternSpec(
        # a lower-case user id signing a line: "... -jquist", "-- kt"
        "username_signature",
        USERNAME,
        r"(?m)(?<=(?:^|\s)[-–—]{1,2}[ \t]?)[a-z][a-z0-9._]{1,15}(?=[ \t]*$)",
        0.5,
    ),
    PatternSpec(
        # "J. Smith", "K. Abernathy-Vogt": an initial and a capitalised word is a name
        # (not a bacterium: "E. Coli", "C. Diff", "H. Pylori")
        "initial_surname",
        PERSON,
        # (also a given name cut to two letters: "Kh. Batbayar", "Wm. Tully"; not "St.",
        # "Dr.", "Pt." or "Rx.")
        # (nor the "S." of a postscript: "P.S. Attached")
        r"(?<!\bP\.)\b(?:\p{Lu}|(?!(?:St|Mt|Ft|Pt|Dx|Hx|Rx|Tx|Sx|Fx|Bx|Cx|No|Vs|Co|Ca|Ph|Wt|Ht|Ex|Op|Dr|"
        r"Mr|Ms|Jr|Sr|Fr|Sq|Rd|Av|Ln|Ct|Pl|Hr|Mo|Yr|Wk|Oz|Lb|Kg|Mg|Ml|Cm|Mm|In|On|At|To|Of|Is|"
        r"It|He|We|Me|My|Or|So|Up|Us|Do|Go|No|Am|An|As|Be|By|If)\.)\p{Lu}\p{Ll})\.[ \t]?"
        r"(?!(?:Coli|Diff|Difficile|Pylori|Aureus|Aeruginosa|Pneumoniae|"
        r"Faecalis|Faecium|Epidermidis|Albicans|Jirovecii|Influenzae|Vulgaris|Mirabilis|"
        r"Marcescens|Cloacae|Baumannii|Fib|Flutter|Gonorrhoeae|Trachomatis|Vaginalis|"
        r"Pyogenes|Agalactiae|Typhi|Enteritidis|Jejuni|Monocytogenes|Gondii|Burgdorferi|"
        r"Pallidum|Tuberculosis|Glabrata|Fumigatus)\b)(?:O['’]|Ma?c)?\p{Lu}\p{Ll}+"
        r"(?:-(?:O['’]|Ma?c)?\p{Lu}\p{Ll}+)?\b",
        0.6,
    ),
    PatternSpec(
        # VistA/CPRS note headers and signatures: "AUTHOR: MCCOY,JUNE E", "EXP COSIGNER:
        # OYELARAN-PIKE,FOLASADE A", "Veteran: TIBBETS,HARLAN EUGENE" (surname, comma and no
        # space, given names), and the electronic signature "/es/ FOLASADE A OYELARAN-PIKE"
        "vista_name",
        PERSON,
        r"\b(?i:AUTHOR|(?:EXP(?:ECTED)?[ \t]+)?COSIGNER|SIGNED[ \t]+BY|ENTERED[ \t]+BY|"
        r"VERIFIED[ \t]+BY|ATTENDING|PROVIDER|REQUESTING|ORDERING|VETERAN|PATIENT|RESIDENT|"
        r"REFERRING|CLINICIAN)[ \t]*:[ \t]*(?P<phi>\p{Lu}[\p{Lu}'’-]+(?:[ \t]\p{Lu}[\p{Lu}'’-]+)?,"
        r"\p{Lu}[\p{Lu}'’-]+(?:[ \t]\p{Lu}[\p{Lu}'’-]*)?)(?![\p{L}\d])"
        r"|(?<=/es/[ \t]{1,3})(?P<phi>\p{Lu}[\p{L}'’.-]*(?:[ \t]\p{Lu}[\p{L}'’.-]*){1,3})",
        0.75,
        regex.V0,
    ),
    PatternSpec(
        # an initial and a surname with a lower-case particle: "H. de Vries", "P. van der Berg"
        "initial_particle_surname",
        PERSON,
        r"\b\p{Lu}\.[ \t]?(?:(?:de|van|von|der|den|du|da|di|del|della|dos|la|le|ter|ten|"
        r"'t)[ \t]+){1,2}\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)?\b",
        0.6,
    ),
    PatternSpec(
        # a line signed with capitals and a log-in: "SLK / skereama"
        "initials_before_login",
        PERSON,
        r"(?m)^[ \t]*(?:[-–—]{1,2}[ \t]?)?(?P<phi>[A-Z]{2,4})(?=[ \t]*/[ \t]*[a-z][a-z0-9._]{3,15}"
        r"[ \t]*$)",
        0.5,
    ),
    PatternSpec(
        "login_after_initials",
        USERNAME,
        r"(?m)^[ \t]*(?:[-–—]{1,2}[ \t]?)?[A-Z]{2,4}[ \t]*/[ \t]*(?P<phi>[a-z][a-z0-9._]{3,15})"
        r"(?=[ \t]*$)",
        0.5,
    ),
    PatternSpec(
        # initials after " / " at the end of a line: "... / JS", "/ J.S."
        "initials_after_slash",
        PERSON,
        r"(?m)(?<=[ \t]/[ \t]?)(?:(?:\p{Lu}\.){2,3}|[A-Z]{2,3})(?=[ \t]*$)",
        0.5,
    ),
    PatternSpec(
        # a typist's lower-case initials after a signed name and " / " closing a line:
        # "E. Ashworth-Bayo / kd" (not a route or a unit: "PO / iv")
        "typist_after_name",
        USERNAME,
        # (the slash found first: a literal the engine looks for directly)
        r"(?m)(?<=(?:\p{Lu}\p{Ll}+(?:-\p{Lu}\p{Ll}+)?|\b(?:MD|DO|NP|PA|PA-C|RN|DPM|PhD)|"
        r"^[ \t]*[A-Z]{2,4})[ \t])/[ \t]?"
        r"(?P<phi>(?!(?:iv|po|im|sc|sl|pr|od|bd|tds|qds|qd|bid|tid|prn|mg|ml|kg|hr|dc|fu|na|"
        r"nil|ok|yes|no)[ \t]*$)[a-z]{2,3})(?=[ \t]*$)",
        0.5,
    ),
    PatternSpec(
        # a clinician's initials signing a line: "-- TV", "— JKL", "-- JS/DM" (two who
        # wrote it), and the author's capitals before a typist's: "PVM / kb"
        "initials_signature",
        PERSON,
        r"(?m)(?<=(?:^|\s)[-–—]{1,2}[ \t]?)(?:[A-Z]{2,3}(?:/[A-Z]{2,3})?|(?:[A-Z]\.){2,3})"
        r"(?=[ \t]*$|[ \t]+/[ \t]+\p{Ll})"
        # initials before the signer's name after a slash: "-KR/Kaylee Rindlisbacher PT",
        # "-- mh/Hebert LPN"
        r"|(?=[A-Za-z]{2,3}/\p{Lu})(?<=(?:^|\s)[-–—]{1,2}[ \t]?)"
        r"(?!(?i:pa|ap|lat|od|os|ou|iv|po|im|sc|rn|md|and|or)/)"
        r"(?:[A-Z]{2,3}|[a-z]{2,3})(?=/\p{Lu}\p{Ll}+[^\n/]{0,40}$)"
        # an author's and a typist's lower-case initials alone on a line: "rkd / jf"
        r"|(?m)(?<=^[ \t]*)(?!(?:and|or|yes|no|po|iv)\b)[a-z]{2,3}"
        r"(?=[ \t]?/[ \t]?[a-z]{2,3}[ \t]*$)"
        rf"|^[ \t]*(?!{_CLOSING_CAPITALS}\b)[A-Z]{{2,4}}(?=[ \t]?/[ \t]?[a-z]{{2,3}}[ \t]*$)",
        0.5,
    ),
    PatternSpec(
        # initials closing a paragraph: after its last sentence on the same line ("Dr. Nowak
        # accepted. KA"), or alone on the line after it and before a blank line or the end
        # ("... agreed.\nJK\n\nAddendum"); an addendum's author in brackets ("Addendum 3/14
        # 1430 (IG): agree")
        "initials_closing_paragraph",
        PERSON,
        rf"(?m)(?<=[\p{{Ll}}\d)\]][.!][ \t]{{1,3}})(?<!^[ \t]*\d{{1,3}}[.)][ \t]{{1,3}})"
        rf"(?!{_CLOSING_CAPITALS}\b)[A-Z]{{2,3}}(?=[ \t]*$)"
        # (after a sentence that ends in capitals too: "note: Bell's staging IIIB.\nKWN\n\n")
        rf"|(?=[A-Z]{{2,3}}[ \t]*(?:\n|\Z))(?<=[\p{{L}}\d)][.!)][ \t]*\n[ \t]*)"
        rf"(?!{_CLOSING_CAPITALS}\b)[A-Z]{{2,3}}"
        r"(?=[ \t]*(?:\n[ \t]*\n|\n?\Z))"
        rf"|(?<=\b(?i:addendum|addenda|late[ \t]entry|update)\b[^\n(]{{0,30}}\()"
        rf"(?!{_CLOSING_CAPITALS}\b)[A-Z]{{2,3}}(?=\)[ \t]*:)"
        # the owner of a list item in brackets after its last sentence ("... window tight.
        # (HS)"), the one who agreed or received ("Seen & agreed SR", "AK / received FJ")
        rf"|(?m)(?<=[.!?][ \t]{{0,2}}\()(?!{_CLOSING_CAPITALS}\b)[A-Z]{{2,3}}(?=\)[ \t]*$)"
        # ("attg addendum: agree, OBN"; "-- d/w attg OA": the attending discussed with)
        r"|(?=[A-Z]{2,3}[ \t]*$)(?<=\b(?:(?i:agreed|agree|ack(?:nowledged)?|received|accepted)"
        r"(?:[ \t]+by|,)?"
        r"|(?i:d/w|w/|discussed[ \t]+with)[ \t]+(?i:attg|attending|fellow|senior|chief))[ \t]{1,2})"
        rf"(?!{_CLOSING_CAPITALS}\b)[A-Z]{{2,3}}(?=[ \t]*$)"
        rf"|(?<![\w/])(?!{_CLOSING_CAPITALS}\b)[A-Z]{{2,3}}"
        r"(?=[ \t]*/[ \t]*(?i:received|rec'd|accepted)\b)",
        0.5,
        starts=r"[A-Z]",
    ),
    PatternSpec(
        # a lower-case signature after a dash or a slash closing the line: "- gil a.",
        # "/dm", "-- mk, CHA II"; a typist; initials after a tilde or a dash, or closing
        # the note after its last sentence
        "initials_signing_lower_line",
        PERSON,
        r"(?m)(?<=^[ \t]*[-–—][ \t]?)\p{Ll}{2,}[ \t]\p{Ll}\.?(?=[ \t]*$)"
        r"|(?m)(?<=^[ \t]*/[ \t]?|[\p{L}.][ \t]{1,3}/)[a-z]{2,3}(?=[ \t]*$)"
        # the typist: "Typed by ang 14/06/77"
        r"|(?<=\b(?i:typed|transcribed)[ \t]+(?i:by)[ \t]+)"
        r"(?!(?:my|the|his|her|pt|our|mom|dad|son|wife|self|me|him|them)\b)[a-z]{2,4}(?=[ \t]|$)"
        # after a tilde or a dash closing the sentence: "... picked up. ~ks", "10:00. -lm"
        r"|(?m)(?<=(?:[.!)]|\d)[ \t]{1,3}(?:~|[-–—]{1,2})[ \t]?)"
        r"(?!(?:ok|no|yes|na|done|neg|pos|nil|nad|wnl|tbd|see|n/a)\b)[a-z]{2,3}(?=[ \t]*$)"
        # lower-case initials closing the note after its last sentence: "... 1500. mop"
        r"|(?<=[\p{Ll}\d)][.!][ \t]{1,3})(?!(?:ok|no|yes|na|done|neg|pos|nil|nad|wnl|tbd|see|"
        r"pt|prn|bid|tid|qd|hs|am|pm|etc|and|but|the|per|via|too|now|all|day|wk|mo|yr)\b)"
        r"[a-z]{2,3}(?=[ \t]*\n?\Z)"
        r"|(?m)(?<=^[ \t]*[-–—]{1,2}[ \t]?)(?!(?:no|yes|ok|not|and|the|per|see|but|was|is|"
        r"pt|now|new|old|far|few|all|any|due|off|on|in|at|to|so|up)\b)[a-z]{2,3}"
        r"(?=,[ \t]*[A-Z]{2,5}\b)",
        0.5,
        starts=r"\p{Ll}",
    ),
    PatternSpec(
        # a worker's initials after the step they did: "Tech work-up: KP/DS", "Analyst JC /
        # reviewed CY", "witness LW/MT", "dictated RS / transcr mz", "(gross ak)"
        "initials_after_worker_step",
        PERSON,
        r"(?m)(?<=(?:\b(?i:tech(?:[ \t]work-up)?|analyst|witness|transcr(?:ibed)?)"
        r"|\((?i:gross(?:ed)?)|\b(?i:gross(?:ed)?)(?:[ \t]+(?i:by)|[ \t]*(?=:)))"
        r"[ \t]*:?[ \t]{1,2})"
        rf"(?!{_CLOSING_CAPITALS}\b|ID\b)(?:[A-Z]{{2,3}}(?:[ \t]?/[ \t]?[A-Z]{{2,3}})?|"
        r"(?!(?:by|and|the|for|not|per|see|was|all|any|due|at|to|on|in|of|ok|no|yes|one|two|"
        r"via|as|but|if|it|his|her|him|our|can|red)\b)[a-z]{2,3})"
        r"(?=[ \t]*(?:$|[/),;\]]|[ \t]-|\.(?:\s|$)))"
        r"|(?<=\b(?i:dictated|reviewed|verified|screened|performed|entered|corrected[ \t]by)"
        rf"[ \t]*:?[ \t]{{1,2}})(?!{_CLOSING_CAPITALS}\b|ID\b)[A-Z]{{2,3}}"
        r"(?=[ \t]*(?:$|[/),;\]]))"
        # initials in brackets before a colon after a time or a reply ("12/20 10:12 (BG):",
        # "Clinic note (NW):"), or with their time ("(TN, 10:42)")
        r"|(?<=(?:\d{1,2}:?\d{2}|\b(?i:note|response|reply|comment|update))[ \t]{1,2}\()"
        rf"(?!{_CLOSING_CAPITALS}\b)[A-Z]{{2,3}}(?=\)[ \t]*:)"
        rf"|(?<=\()(?!{_CLOSING_CAPITALS}\b)[A-Z]{{2,3}}(?=,[ \t]*\d{{1,2}}:\d{{2}}\))",
        0.5,
        starts=r"[A-Za-z]",
    ),
    PatternSpec(
        # a log line's author: lower-case initials after its time at the end of the line
        # ("TE - Derm 12/1/82 3:38p kh"), and initials or a first name with an initial after
        # the date that opens an entry ("04/30/82 NB: PA approved", "04/16/82 nicole b:")
        "initials_in_log_line",
        PERSON,
        r"(?m)(?<=(?<![\w*])\d{1,2}:\d{2}[ \t]?(?:[ap]m?|[AP]M?)?[ \t]{1,3})"
        rf"(?!{_LOG_LINE_WORDS}\b)[a-z]{{2,3}}(?=[ \t]*$)"
        r"|(?<=^[ \t]*\d{1,2}/\d{1,2}(?:/\d{2,4})?(?:[ \t]+\d{1,2}:?\d{2})?[ \t]{1,3})"
        rf"(?:(?!{_CLOSING_CAPITALS}\b)[A-Z]{{2,3}}|\p{{Ll}}{{3,}}[ \t]\p{{Ll}})(?=:)"
        # after a 24-hour time (and a date) opening the entry: "1705 KD: pt BIBA",
        # "0100 3/18 MQ: CIWA 4", "Reassess 0310 GR: moved"
        r"|(?<=(?:^|[ \t])(?:[01]\d|2[0-3])[0-5]\d(?:[ \t]+\d{1,2}/\d{1,2})?[ \t]{1,2})"
        rf"(?!{_CLOSING_CAPITALS}\b|VS\b)[A-Z]{{2}}(?=:)"
        # or after a dash: "06/06/2089 0700 - B.Q.: circuit day 3" (with full stops only)
        r"|(?=[A-Z]\.[A-Z]\.)(?<=(?:^|[ \t])(?:[01]\d|2[0-3])[0-5]\d[ \t]*[-–—]{1,2}[ \t]*)"
        r"(?:[A-Z]\.){2,3}(?=[ \t]*:)",
        0.5,
        starts=r"\p{L}",
    ),
    PatternSpec(
        # lower-case initials signing a line before a log-in or a name: "-- rk / rkoval2",
        # and capitals after "by" closing a sentence: "called to the ward by TQ."
        "initials_signing_lower",
        PERSON,
        r"(?m)^[ \t]*[-–—]{1,2}[ \t]?(?P<phi>[a-z]{2,3})(?=[ \t]*/[ \t]*[a-z])"
        r"|(?=[A-Z]{2,3}\b)(?<=\b(?i:by)[ \t])"
        rf"(?!{_CLOSING_CAPITALS}\b)"
        r"(?P<phi>[A-Z]{2,3})(?=\.(?:[ \t]|$)|[ \t]*$)",
        0.5,
    ),
    PatternSpec(
        # a log-in or app handle joined by an underscore: "lucasr_sz", "hvo_mchd",
        # "dkwan_rad", "bookie_tha_barber" (not a file name with its extension, not a path)
        "username_underscore",
        USERNAME,
        r"(?<![\w.@/\\-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@/\\-]|\.[A-Za-z0-9])",
        0.5,
    ),
    PatternSpec(
        # dictation initials: "DD/tp", "JT:mb", "xw/ab"
        "dictation_initials",
        USERNAME,
        r"(?<![\w/])(?:[A-Z]{2,4}\d{0,4}[/:][a-z]{2,4}\d{0,4}|[a-z]{2,4}/[A-Z]{2,4}|"
        r"(?!(?:mg|ml|mcg|kg|dl|hr|min|cm|mm|ng|meq|mmol|iu|unit|units|"
        r"day|wk|mo|yr|sec|ug|gm|cc|lb|oz|hpf|lpf)/)[a-z]{2,4}/(?!(?:mg|ml|mcg|kg|dl|hr|min|cm|"
        r"mm|hg|ng|meq|mmol|iu|units?|day|wk|mo|yr|sec|ug|gm|cc|lb|oz|hpf|lpf|kg|m2|l|L)\b)"
        r"[a-z]{2,4})(?![\w/])(?<!\b(?:SI/HI|HI/SI|AV/VA|PO/IV|IV/PO|N/V|A/P|S/P|"
        r"W/U|F/U|D/C|C/O|R/O|H/O|S/S|Y/O)\b)",
        0.5,
    ),
    PatternSpec(
        # a dictation footer's author and typist initials in capitals at the start of a line,
        # before the dictated/typed stamps or alone ("KLR/MT  D: 02/03/2071", "ABW/DC");
        # also before a reference ("Our ref: PJ/tw/CX-1182")
        "dictation_initials_upper",
        USERNAME,
        r"(?m)^[ \t]*(?P<phi>[A-Z]{2,4}/[A-Z]{2,4})(?=[ \t]*$|[ \t]+(?:D|T|DD|DT|Dict|Job|"
        r"Doc|cc|CC)\b)"
        r"|\b(?i:ref|reference)\.?[ \t]*:?[ \t]*(?P<phi>[A-Za-z]{2,4}(?:/[A-Za-z]{2,4})+)"
        r"(?=/|[ \t]|$)"
        # after the dictated/typed stamps on the same line: "T: 08/09/2070  AB/CDE  JOB 12"
        r"|\b[DT]:[ \t]*\d{1,2}/\d{1,2}/\d{2,4}(?:[ \t]+\d{1,2}:?\d{2})?[ \t]+"
        r"(?P<phi>[A-Z]{2,4}/[A-Za-z]{2,4})(?![\w/])",
        0.5,
    ),
    PatternSpec(
        # upper-case letters and digits mixed (licence, plate, serial, internal ids): at least
        # two of each, five characters or more, not a clinical code, spinal level or unit
        "alphanumeric_id",
        ID,
        r"(?<![\w/.-])"
        r"(?![CTLS]\d{1,2}-[CTLS]?\d{1,2}(?![\w-])|G\d+P\d+|\d{1,3}(?:[A-Z]{1,3})(?![\w-])|"
        r"\d+(?:IU|U|MG|ML|MCG|G|L|MM|CM|KG|MEQ|MMOL)(?![\w-])|"
        r"COVID-?\d+|CHA2DS2|ICD-?\d+|SF-?\d+|CA-?\d+(?:-\d+)?|HLA-[A-Z]+\d+|IL-?\d+|"
        r"CD\d+|NYHA|PHQ-?\d+|GAD-?\d+|H\d+N\d+|DSM-?\d+|"
        r"\d{1,3}-(?:YEARS?|YRS?|MONTHS?|MOS?|WEEKS?|WKS?|DAYS?)(?:-OLDS?)?(?![\w-]))"
        r"(?=(?:[A-Z-]*\d){2})(?=(?:[\d-]*[A-Z]){2})[A-Z0-9]+(?:-[A-Z0-9]+)*(?<=[\w]{5,}|"
        r"[\w-]{6,})(?![\w/-])",
        0.55,
    ),
    PatternSpec(
        # an aircraft's registration near an air word: "fixed wing (VH-KQZ)", "helicopter
        # G-HMED", "helicopter S-92 5N-QRT" (any nationality mark: one or two letters, or a
        # digit and a letter); not G-CSF or D-dimer (no air word)
        "aircraft_registration",
        ID,
        r"(?=\b(?:[A-Z]{1,2}|\d[A-Z]|[A-Z]\d)-[A-Z]{3,4}\b)"
        r"(?<=\b(?i:air|aircraft|helicopter|heli|wing|rotor|jet|plane|flight|tail|airframe|"
        r"retrieval|aeromedical)\b[^\n]{0,40})"
        r"(?:[A-Z]{1,2}|\d[A-Z]|[A-Z]\d)-[A-Z]{3,4}\b",
        0.6,
    ),
    PatternSpec(
        # licence plates: "4ABC 123", "7XKJ221", "ABC-1234" after a vehicle word
        "vehicle_plate",
        ID,
        r"\b\d[A-Z]{2,3}[ -]?\d{3,4}\b"
        r"|(?<=\b(?:plate|plates|tag|vehicle|car|truck|VIN)\b[^\n]{0,20})"
        r"[A-Z0-9]{2,4}[ -]\d{3,4}\b",
        0.6,
    ),
    PatternSpec(
        # a number plate within a few words after its cue, with the region written before
        # it: "plate KY 4TRK-882", "Plate ... given for parking: GKR 4471", "rego ABC12D";
        # letters and digits both, in capitals (not "plate 3.5 mm", "8-hole plate")
        "vehicle_plate_after_cue",
        ID,
        r"\b(?i:plates?|rego|number[ \t]+plate|licen[cs]e[ \t]+plate|registration)\b"
        r"[^\n]{0,50}?(?<![\w.-])"
        r"(?P<phi>(?:[A-Z]{2,3}[ \t])?(?=[A-Z0-9 -]{0,4}\d)(?=[0-9 -]{0,4}[A-Z])"
        r"(?![CTLS]\d{1,2}-[CTLS]?\d)[A-Z0-9]{1,4}[ -]?[A-Z0-9]{2,4})(?![\w.-])",
        0.6,
    ),
    PatternSpec(
        # a licence or registration number after its label: "lic. CPSNS 009912", "reg
        # P-3318", "Reg. No.: MDCN/R/40417", "licence # for application: CT 118-442-097";
        # three digits at least, letters in capitals ("reg insulin 10 units" stays)
        "licence_after_label",
        ID,
        r"\b(?i:licen[cs]e|lic|reg|registration|cert|certificate|certification|NMC[ \t]+PIN|"
        r"permit)\b"
        r"\.?(?:[ \t]*(?i:no|number|num|#)\.?)?(?:[ \t]+(?i:for)[ \t]+\p{Ll}+)?[ \t]*[:#]?[ \t]*"
        # (the issuing state first: "Lic TX Q4471")
        r"(?:[A-Z]{2}[ \t]+(?=[A-Z]{1,3}\d))?"
        r"(?P<phi>(?=(?:[A-Z/ -]{0,8}\d){3})(?:[A-Z]{1,6}(?:[ /-]|(?=\d)))?(?:[A-Z]{1,3}/)?"
        r"\d[\dA-Z]*(?:[/-][\dA-Z]+)*(?:[ ]\d{3,}(?:-\d+)*)?)(?![\w/-])",
        0.6,
    ),
    PatternSpec(
        # a care site named in French, Spanish, Portuguese or Italian: the institution word,
        # a particle, a few words, and a capitalised name ("Centre de réadaptation
        # Marie-Desrochers", "Clínica do Lima", "GMF des Berges", "Hôpital du Sacré-Cœur");
        # a university hospital centre by its acronym ("CHUM", "CHUS")
        "hospital_romance",
        HOSPITAL,
        r"\b(?:Centre|Centro|Clínica|Clinica|Clinique|Hôpital|Hopital|Hospital|Institut|"
        r"Instituto|Maison|Résidence|Policlínica|Policlinico|Sanatorio|Casa|Pavillon|Hospicio|"
        r"Fundación|Fundação|Ospedale|Presidio|GMF(?:-U)?|CLSC|CHSLD|CIUSSS|CISSS|UMF|CHU|"
        r"Pharmacie|Farmacia|Laboratoire|Grappe[ \t]+de[ \t]+laboratoires)"
        # (an adjective between: "Hôpital régional de Saint-Jérôme")
        r"(?:[ \t]+(?:régional|regional|général|general|universitaire|municipal|provincial))?"
        r"[ \t]+(?:de[ \t]+la|de[ \t]+l['’]|d['’]|de|del|du|des|do|da|dos|das|di|della|dell['’])"
        r"[ \t]*(?:[\p{Ll}\p{Lu}][\p{L}'’-]+[ \t]+){0,3}?\p{Lu}[\p{L}'’-]+"
        r"|\bCHU[A-Z]{0,4}\b",
        0.6,
    ),
    PatternSpec(
        # a care site named for Our Lady, in any case: "Our Lady of Lourdes", "OUR LADY OF
        # THE LAKE" (not the department after it: "... ED")
        "hospital_our_lady",
        HOSPITAL,
        r"\b(?i:our[ \t]+lady(?:['’]s)?[ \t]+of)(?:[ \t]+(?i:the))?[ \t]+\p{Lu}[\p{L}'’-]+"
        r"(?:[ \t]+(?!(?i:ED|ER|ICU|OR|AND|IN|ON|AT|FOR|WITH|WAS|IS)\b)\p{Lu}[\p{L}'’-]+){0,2}",
        0.6,
    ),
    PatternSpec(
        # a care site named for a saint in the possessive, in any case: "St. Jude's",
        # "ST. JUDE'S", "st. vincent's", "Saint Luke's" (not St John's wort, St Patrick's Day)
        "hospital_saint_possessive",
        HOSPITAL,
        r"\b(?i:st\.?|saint)[ \t]+(?!(?i:john['’]s[ \t]+wort|patrick['’]s[ \t]+day|"
        r"valentine['’]s)\b)(?:\p{Lu}\p{Ll}+|\p{Lu}{2,}|(?<=(?-i:st|saint)\.?[ \t]+)\p{Ll}{3,})"
        r"['’][sS]\b",
        0.6,
    ),
    PatternSpec(
        # "Mercy" with a place or direction after it is a hospital: "Mercy West", "MERCY
        # SOUTHWEST", "mercy ridge" (not "at the mercy of")
        "hospital_mercy",
        HOSPITAL,
        r"\b(?:Mercy|MERCY|mercy)[ \t]+(?!(?i:of|and|for|to|killing)\b)"
        r"(?:\p{Lu}\p{Ll}+|\p{Lu}{3,}|(?i:north|south|east|west|northwest|northeast|"
        r"southwest|southeast|ridge|hill|hills|valley|general|medical|hospital|health)\b)",
        0.6,
    ),
    PatternSpec(
        "username_mixed",
        USERNAME,
        r"(?<![\w/.@-])(?!(?:spo|pao|fio|pco|hco|mso|po|covid|sao|vo|feo|cao|fev|fvc|dlco|"
        r"icd|dsm|phq|gad|sf|hba|cd|il|brca|her|kcl)\d)[a-z]{2,8}\d{1,4}(?![\w@-])",
        0.5,
    ),
    PatternSpec(
        "long_number",
        ID,
        r"(?<![\d.,/:-])(?<!(?:plt|platelets?|wbc|anc|alc|count|load|vl|cd4|copies|mg|dose|"
        # (a comma after it ends a list, "4471882, Telangana"; only ",\d" is a thousands mark)
        r"weight|steps|calories)\s{0,3}:?\s{0,2})\d{5,}(?![\d/]|,\d|\.\d|\s*"
        + _UNITS
        + r"(?![\p{L}]))",
        0.5,
        regex.I,
    ),
    # ----- places ------------------------------------------------------------------------
    PatternSpec(
        "zip_after_state",
        ZIP,
        r"(?<=\b[A-Z]{2},?\s{1,2})\d{5}(?:-\d{4})?(?!\d)",
        0.7,
    ),
    PatternSpec(
        # UK postcodes and Canadian postal codes
        "postcode_international",
        ZIP,
        r"\b(?:[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d)\b",
        0.6,
    ),
    PatternSpec(
        # an Indian PIN code after its town and a dash: "Hyderabad - 500033"
        "pin_after_town",
        ZIP,
        r"\b\p{Lu}\p{Ll}{2,}[ \t]?[-–][ \t]?(?P<phi>[1-9]\d{5})(?![\d-]|\.\d)",
        0.55,
    ),
    PatternSpec(
        # an Australian or New Zealand landline written with its area code: "03 9011 2284"
        "phone_area_code_spaced",
        PHONE,
        r"(?<![\d+-])0[2-9][ \t]\d{4}[ \t]\d{4}(?![\d-])",
        0.6,
    ),
    PatternSpec(
        "province_before_postcode",
        LOCATION,
        r"(?<=\p{L},[ \t]{0,2}|\p{Ll}[ \t]{1,2})(?:ON|QC|BC|AB|MB|SK|NS|NB|NL|PE|YT|NT|NU)"
        r"(?=[ \t]+[A-Z]\d[A-Z][ \t]?\d[A-Z]\d\b)",
        0.6,
    ),
    PatternSpec(
        "state_in_parentheses",
        LOCATION,
        rf"(?<=\p{{Lu}}\p{{Ll}}+[ \t]\()(?!OR|IN|ME|PA|MD|DO|OK|HI|ID|CO|DC\b)"
        rf"{_STATE_ABBR}(?=\))",
        0.55,
    ),
    PatternSpec(
        "zip_after_label",
        ZIP,
        r"(?<=\b(?:zip|zip\s*code|postal\s*code)[:#\s]{1,3})\d{5}(?:-\d{4})?",
        0.8,
        regex.I,
    ),
    PatternSpec(
        "street_address",
        LOCATION,
        # (on one line: "DOB 2041\nDear Dr. X" is no street)
        r"\b\d{1,6}(?:-?[A-Z])?[ \t]+(?:[NSEW]\.?[ \t]+)?(?:\p{Lu}[\p{L}'.-]*[ \t]+|"
        r"\d{1,3}(?:st|nd|rd|th|ST|ND|RD|TH)[ \t]+){1,4}"
        r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|"
        r"Place|Pl|Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Row|"
        r"Pike|Turnpike|Tpke|Alley|Crescent|Loop|Path|Run|Pass|Plaza|Walk|Commons|Heights|"
        r"Extension|Ext|Expressway|Freeway|Route|Rte|STREET|ST|AVENUE|AVE|ROAD|RD|DRIVE|DR|"
        r"LANE|LN|BLVD|COURT|CT|WAY|Approach|Rise|Gardens|Green|Close|Mews|Grove|Parade|"
        r"Wharf|Quay|Vale|Hill|Bank|Causeway|Wynd|Chase|Croft|Esplanade|Promenade|Embankment|"
        r"Cove|Glen|Crossing|Landing|Mount)\b\.?"
        # a direction after the street ("711 BROADWAY N", "1402 5TH AVE S")
        r"(?:[ \t](?:N|S|E|W|NE|NW|SE|SW)\b(?![.'’-]\p{L}))?"
        r"(?:[ \t]?,?\s+(?:(?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|Room|Rm|Bldg|Building|#)\.?"
        r"\s*[\w-]+|\d{1,3}(?:st|nd|rd|th)[ \t]+(?:Fl|Floor|Flr)\b\.?))?"
        r"|\bP\.?\s?O\.?\s+Box\s+\d+"
        # post boxes and bags by other names: "Private Bag X7", "Locked Bag 2002", "GPO Box
        # 4471", "Postfach 1123", "Apartado 55", "Caixa Postal 12", "Postbus 90"
        r"|\b(?:Private[ \t]+(?:Mail[ \t]+)?Bag|Locked[ \t]+Bag|Mail[ \t]+Bag|GPO[ \t]+Box|"
        r"Postfach|Apartado(?:[ \t]+Postal)?|Caixa[ \t]+Postal|Postbus|Casilla|"
        r"Boîte[ \t]+postale)"
        r"[ \t]+[A-Z]?\d{1,6}(?![\w/-])"
        # addresses written by plot, villa or house number ("Villa 9, Street 12, Al Nahda",
        # "No. 7, 3rd Cross, 2nd Block, Jayanagar")
        r"|\b(?:Villa|Flat|Plot|House[ \t]No\.?|No\.)[ \t]?\d+[A-Z]?(?:,[ \t]*(?:Street[ \t]\d+|"
        r"\d+(?:st|nd|rd|th)[ \t]+(?:Cross|Main|Block|Stage|Sector|Phase|Street|Road)|"
        r"(?:Al|El)[ \t]\p{Lu}\p{Ll}+|\p{Lu}\p{Ll}+(?:[ \t]\p{Lu}\p{Ll}+)?)){1,4}",
        0.7,
    ),
    PatternSpec(
        "city_before_state",
        LOCATION,
        rf"(?<![\p{{L}}])(?:\p{{Lu}}[\p{{L}}'.-]+[ \t]){{0,2}}\p{{Lu}}[\p{{L}}'.-]+"
        rf"(?=[ \t]?,[ \t]*(?:{_STATE_ABBR}(?![\p{{L}}])|{_STATE_NAME}\b"
        r"|(?:Mass|Calif|Conn|Fla|Ill|Mich|Minn|Tenn|Tex|Wash|Wis|Ariz|Colo|Okla|Ore)\."
        r"|(?:ON|QC|BC|AB|MB|SK|NS|NB|NL|PE)[ \t]+[A-Z]\d[A-Z]"
        r"|(?:NSW|VIC|QLD|TAS|ACT|SA|WA|NT)[ \t]+\d{4}\b))",
        0.65,
    ),
    PatternSpec(
        # "..., Barre VT (802...", "Mackenzie Hospital, Emerald QLD": a town after a comma and
        # before a state or territory abbreviation (not one that is also a clinical one)
        "city_after_comma_before_state",
        LOCATION,
        rf",[ \t]{{1,2}}(?P<phi>(?:\p{{Lu}}[\p{{L}}'.-]+[ \t]){{0,2}}"
        rf"\p{{Lu}}[\p{{L}}\d'.-]*\p{{L}}[ \t]{{1,2}}"
        rf"(?!MD|DO|PA|OR|IN|ME|DE|ID|HI|OK|CO|MS|MI|CT|RN|NP|PT|OT)"
        rf"(?:{_STATE_ABBR}|NSW|VIC|QLD|TAS|ACT|NT))(?![\p{{L}}\d-])",
        0.55,
    ),
    PatternSpec(
        # a county, parish or borough by name ("Dunmore County Council", "KESTREL COUNTY
        # EMS"), an Irish county after "Co." ("Co. Sligo")
        "county_name",
        LOCATION,
        # (the head word is part of the place's name: "Tolliver County", "Pinecrest Township")
        r"\b(?P<phi>\p{Lu}\p{Ll}+(?:[ \t]\p{Lu}\p{Ll}+)?[ \t]+"
        r"(?:County|Parish|Borough|Township))\b"
        r"|\b(?P<phi>(?!(?:THE|OF|AND|FOR|IN|AT|TO|BY)\b)[A-Z]{3,}"
        r"(?:[ \t](?!(?:THE|OF|AND|FOR|IN|AT|TO|BY)\b)[A-Z]{3,})?"
        r"[ \t]+(?:COUNTY|PARISH|TOWNSHIP))\b"
        r"|\b(?P<phi>Co\.[ \t]\p{Lu}\p{Ll}+)",
        0.55,
    ),
    PatternSpec(
        # four-digit postcodes after a town in an address line (South Africa, Australia,
        # Belgium...): "..., Rondebosch 7700", "..., Durban, 4001   Tel" ; and the suburb between
        # a street and its town: "14 Kloof Street, Gardens, Cape Town"
        "postcode_four_after_town",
        ZIP,
        r",[ \t](?:\p{Lu}\p{Ll}+[ \t]){0,2}\p{Lu}\p{Ll}+,?[ \t](?P<phi>\d{4})"
        r"(?=,[ \t]*\p{Lu}|[ \t]*$|[ \t]{2,}|[ \t]*\|)",
        0.5,
        regex.M,
    ),
    PatternSpec(
        "locality_after_street",
        LOCATION,
        r"\b\d{1,5}[A-Z]?[ \t](?:\p{Lu}\p{Ll}+[ \t]){1,3}(?:Street|St|Road|Rd|Avenue|Ave|Drive|"
        r"Dr|Lane|Ln|Crescent|Close|Way|Place|Terrace|Grove|Parade)\.?,[ \t]"
        r"(?P<phi>(?:\p{Lu}\p{Ll}+[ \t]){0,2}\p{Lu}\p{Ll}+)(?=,)",
        0.55,
    ),
    PatternSpec(
        "city_before_state_zip",
        LOCATION,
        rf"(?<![\p{{L}}])(?:\p{{Lu}}[\p{{L}}'.-]+[ \t]){{0,2}}\p{{Lu}}[\p{{L}}'.-]+"
        rf"(?=,?[ \t]+{_STATE_ABBR}[ \t]+\d{{5}}(?!\d))",
        0.65,
    ),
    PatternSpec(
        "state_abbr_in_address",
        LOCATION,
        rf"(?<=\p{{L}},?[ \t]{{1,2}}){_STATE_ABBR}(?=[ \t]+\d{{5}}(?!\d))"
        rf"|(?<=\p{{L}}{{2}},[ \t]{{0,2}})(?<!(?:positive|negative|pos|neg),[ \t]{{0,2}})"
        rf"(?!MD|PA|DO)(?-i:{_STATE_ABBR})(?![\p{{L}}\d-])"
        r"(?![ \t]+(?i:feeds?|feeding|tubes?|placement|insertion))",
        0.6,
    ),
    PatternSpec("state_name", LOCATION, rf"\b{_STATE_NAME}\b", 0.55),
    PatternSpec("state_name_capitals", LOCATION, rf"\b(?:{_STATE_NAME_CAPITALS})\b", 0.55),
    PatternSpec(
        # states written loosely: lower case after a preposition ("moved from texas"), an
        # abbreviation before resident/native/licence ("NH resident"), dotted ("N.Y."),
        # after a region word ("upstate NY", "western Mass")
        "state_loose",
        LOCATION,
        # (cheap look-arounds first: the long look-behinds are tried only where they may hold)
        rf"(?=[A-Za-z])(?<=[ \t])(?<=\b(?:in|from|to|near|of|moved\s+to)[ \t])(?i:{_STATE_NAME})\b"
        rf"|\b{_STATE_ABBR}(?=[ \t-]+(?:resident|native|licensed?|Medicaid|driver'?s)\b)"
        r"|(?=[DNRS]\.)(?<=(?:,|\bin|\bfrom|\bto)[ \t])"
        r"(?:D\.C\.|N\.Y\.|N\.J\.|N\.H\.|R\.I\.|N\.C\.|S\.C\.)"
        r"|(?=[A-Z])(?<=[ \t])"
        r"(?<=\b(?:upstate|downstate|western|eastern|northern|southern|central)[ \t])"
        rf"(?:{_STATE_ABBR}|Mass|Penn|Conn|{_STATE_NAME})\b",
        0.55,
    ),
    PatternSpec(
        "street_name",
        LOCATION,
        r"\b(?:\p{Lu}[\p{L}'-]+[ \t]+){1,3}(?:Street|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|"
        r"Drive|Court|Terrace|Parkway|Pkwy|Highway|Hwy|Turnpike|Pike|Plaza|Alley)\b\.?",
        0.6,
    ),
    PatternSpec(
        "hospital",
        HOSPITAL,
        r"\b(?:(?:St\.?|Saint|Mount|Mt\.?|\p{Lu}[\p{L}'&.-]*|of|the|and|&)[ \t]+){0,5}"
        r"(?:St\.?|Saint|Mount|Mt\.?|\p{Lu}[\p{L}'&.-]*)[ \t]+"
        r"(?:(?:Regional|General|Memorial|Community|University|Children's|Women's|County|"
        r"Veterans|VA|Baptist|Methodist|Presbyterian|Lutheran|Mercy|Deaconess|Specialty)[ \t]+)*"
        + _HOSPITAL_WORD
        + r"\b"
        r"|\b(?:Hospital|Medical\s+Center|Clinic)\s+(?:of|for)\s+(?:the\s+)?"
        r"(?:\p{Lu}[\p{L}'.-]+[ \t]*){1,4}",
        0.7,
    ),
    PatternSpec(
        "facility_name",
        HOSPITAL,
        r"\b(?:(?:St\.?|Saint|Mount|Mt\.?)[ \t]+)?(?:\p{Lu}[\p{L}'&.-]*[ \t]+){1,3}"
        + _FACILITY_HEAD
        # the place it is "of": "First Presbyterian of Bisbee"
        + r"\b(?:[ \t]of[ \t]\p{Lu}\p{Ll}[\p{L}'-]+(?:[ \t]\p{Lu}\p{Ll}[\p{L}'-]+)?)?"
        r"|\b(?:St\.?|Saint)[ \t]+\p{Lu}\p{Ll}+['’]s\b",
        0.5,
    ),
    PatternSpec(
        # organisations named in a note that are no care site but identify as much: a school,
        # college, church, employer, agency or newspaper ("Pocahontas County HS", "Cross
        # Timbers Child Guidance", "Greenbrier Timber Co.", "Tolliver County Ledger", "CUSTER
        # GAP PUBLIC SCHOOLS"); a clinic known by a short head after its place ("Laurel Bend
        # RHC", "Pine Knob CBOC", "High Desert BH"). Not from a grammar word: "The College".
        # (A business named by its trade is employers.py's: only a name inside it counts.)
        "organisation_name",
        HOSPITAL,
        r"\b(?!(?:The|A|An|At|To|In|From|Per|Our|His|Her|Their|Your|My|Seen|Saw|Via|And|Or|For|"
        r"Of|On|With|Patient|Pt|Medical|Hospital|Medicaid|Medicare|Durable|Home|Royal|American|"
        r"National|British|Joint)\b)"
        r"(?:(?:\p{Lu}[\p{L}'’-]*|St\.|Mt\.|Co\.)[ \t]+(?:(?:&|of|and)[ \t]+)?){1,4}"
        r"(?:Public[ \t]+Schools?|Schools?|High[ \t]+School|Elementary|Middle[ \t]+School|"
        r"Academy|University|College|Church|Ministries|Council|Agency[ \t]+on[ \t]+Aging|"
        # a school by its level alone: "Hollis Brook Middle" (not "Middle East")
        r"Middle(?![ \t]+(?:East|Eastern|Ages|Name|Initial|Finger|Ear|Lobe|Third))|"
        r"Toxicology|Child[ \t]+Guidance|Visiting[ \t]+Nurses?|Mobile[ \t]+Dental|Co\.|Company|"
        r"Inc\.?|LLC|Corp\.?|Ledger|Gazette|Tribune|Funeral[ \t]+Home|Correctional[ \t]+"
        r"(?:Center|Facility)|Tool[ \t]+&[ \t]+Die|Life[ ]?Flight|RHC|CBOC|SHC|Fire[ \t]+(?:&|and)"
        r"[ \t]+Rescue|Behavioral[ \t]+Health|Counseling[ \t]+(?:Center|Services)|"
        # banks, police stations, ministries, a care site's named building (not insurers: a
        # carrier names no person nor place, and most annotators leave it)
        r"Savings|Bank|Credit[ \t]+Union|Police[ \t]+(?:Station|Department|Dept\.?)|"
        r"Sheriff['’]s[ \t]+Office|"
        r"Ministry[ \t]+of[ \t]+\p{Lu}\p{Ll}+|"
        # shelters, food banks, transport and doula services, detention centres
        r"(?:Men['’]s[ \t]+|Women['’]s[ \t]+|Family[ \t]+)?Shelter|Food[ \t]+(?:Bank|Shelf|Pantry)|"
        r"Collective|NEMT|Withdrawal[ \t]+Management|ADC|Detention[ \t]+Center|Jail|"
        r"(?<!\b(?:Main|Research|Medical|Office|Administration|Outpatient|Inpatient|Clinical|"
        r"North|South|East|West|New|Old|Federal|State|County|City|Professional|Parking)[ \t]+)"
        r"(?:Building|Pavilion|Tower))(?![\p{L}\d])"
        r"|\b(?:\p{Lu}\p{Ll}+[ \t]+){2,3}(?:HS|BH)\b"
        r"|\b(?!(?:THE|OF|AT|TO|IN|FROM|AND|FOR)\b)"
        r"(?:(?:[A-Z][A-Z'-]+|CO\.)[ \t](?:(?:&|OF|AND)[ \t])?)"
        r"{1,4}(?:PUBLIC[ \t]+SCHOOLS?|SCHOOLS?|HIGH[ \t]+SCHOOL|ACADEMY|UNIVERSITY|COLLEGE|CHURCH|"
        r"CHILD[ \t]+GUIDANCE|VISITING[ \t]+NURSES?|MOBILE[ \t]+DENTAL|FUNERAL[ \t]+HOME|COUNCIL|"
        r"FIRE[ \t]+(?:&|AND)[ \t]+RESCUE|(?:ORAL[ \t]+&[ \t]+)?MAXILLOFACIAL[ \t]+SURGERY|"
        r"(?:MEN['’]S[ \t]+|WOMEN['’]S[ \t]+|FAMILY[ \t]+)?SHELTER|ADC|JAIL|DETENTION[ \t]+CENTER|"
        r"INC\.?|LLC|"
        r"BEHAVIORAL[ \t]+HEALTH)(?![\p{L}\d])",
        0.55,
    ),
    PatternSpec(
        "facility_after_cue",
        HOSPITAL,
        rf"(?<=\b{_FACILITY_CUE}[ \t]+(?:to|at|from|in|by|for|with):?[ \t]+(?:the[ \t]+)?)"
        r"(?!(?:Dr|Mr|Mrs|Ms|ICU|MICU|SICU|CCU|ED|ER|OR|PACU|ICU|SNF|LTAC|LTACH|Medicine|"
        r"Surgery|Rehab|Hospice|Home|Cardiology|Oncology|Neurology|PCP|PT|OT)\b)"
        r"(?:\p{Lu}[\p{L}'&.-]*)(?:[ \t]+(?:of[ \t]+|&[ \t]+)?\p{Lu}[\p{L}'&.-]*){0,4}",
        0.5,
    ),
    PatternSpec(
        # a ward or unit named after a word before its number: "(Ward Kowhai 3)", "Unit
        # Banksia 2"; the site whose record number it is: "MRN (KGUH): 0441"
        "ward_or_site_name",
        HOSPITAL,
        r"\b(?:Ward|Unit|Wing|Pavilion)[ \t](?!(?:Level|Floor|Bed|Room|Bay|Block|Wing|Ward|"
        r"Unit|North|South|East|West|Clerk|Manager|Nurse|Number|No|Side|Area|Zone|Pod|Team|"
        r"Round|Rounds|Dose|Doses)\b)(?P<phi>\p{Lu}\p{Ll}{2,})(?=[ \t]*(?:\d|\)))"
        r"|\b(?:MRN|MR\#|Hosp(?:ital)?[ \t]?(?:no\.?|\#))[ \t]*\((?P<phi>[A-Z]{2,6})\)",
        0.55,
    ),
    PatternSpec(
        # a number of six digits or more after "no.": "Practice no 0418877", "medical aid
        # ..., no. 55120934"
        "number_after_no",
        ID,
        # also digit groups joined by hyphens, six digits at least ("PhilHealth No.:
        # 12-025518890-3")
        r"\b(?i:no)\.?[ \t]?:?[ \t]{0,2}(?P<phi>\d{6,}|(?=(?:\d-?){6})\d+(?:-\d+){1,3})"
        r"(?![\d/-]|[.,]\d)",
        0.55,
    ),
    PatternSpec(
        # a care site named in Spanish, its kind first: "Hospital Damas del Sur", "Instituto de
        # Ojos del Caribe", "Diálisis Ponce del Mar", "LABORATORIO CLÍNICO TOLEDO", "Farmacia
        # Yadira", "Cuidado en el Hogar Borinquen" (a Spanish particle or a Spanish head word,
        # so not "Hospital Course")
        "facility_spanish",
        HOSPITAL,
        r"\b(?:(?:Hospital|HOSPITAL)(?=[ \t]+(?:\p{Lu}[\p{L}'’.-]+[ \t]+)?(?:de|del|la|las|los|"
        r"DE|DEL|LA|LAS|LOS)\b)|Centro|CENTRO|Cl[ií]nica|CL[IÍ]NICA|Farmacia|FARMACIA|"
        r"Laboratorio|LABORATORIO|Di[aá]lisis|DI[AÁ]LISIS|Instituto|INSTITUTO|Patolog[ií]a|"
        r"PATOLOG[IÍ]A|Cuidado|CUIDADO|Hogar|HOGAR|Consultorio|CONSULTORIO|Oficina[ \t]+M[eé]dica)"
        r"(?:[ \t](?:(?:de|del|la|las|los|el|en|y|DE|DEL|LA|LAS|LOS|EL|EN|Y)[ \t])*"
        r"\p{Lu}[\p{L}'’.-]*){1,4}",
        0.55,
    ),
    PatternSpec(
        # Puerto Rico's and Latin America's rural addresses: a road and its kilometre ("Carr.
        # 173 Km 5.2", "Carr. 3 R-909 Km 1.4"), a barrio or sector before it, an avenue or
        # street with its number after the name ("Ave. Dr. Susoni 45", "Ave. Las Américas
        # 1805, Suite 202")
        "street_spanish",
        LOCATION,
        r"(?:\b(?:Bo|Barrio|Sector|Urb|Urbanizaci[oó]n|Parcelas)\.?[ \t]+\p{Lu}[\p{L}'’.-]*"
        r"(?:[ \t]+(?:de|del|la|las|los|\p{Lu}[\p{L}'’.-]*)){0,3},?[ \t]+)*"
        r"\b(?:Carr|Carretera|PR)\.?[ \t]*(?:#[ \t]*)?\d{1,4}(?:[ \t]+R-\d{1,4})?,?[ \t]+"
        r"(?i:km)\.?[ \t]*\d{1,3}(?:[.,]\d{1,2})?"
        r"|\b(?:Ave|Avda|Avenida|Calle|C/)\.?[ \t]+(?:(?:de|del|la|las|los|Dr\.?|Sta?\.?)[ \t]+)*"
        r"\p{Lu}[\p{L}'’.-]*(?:[ \t]+\p{Lu}[\p{L}'’.-]*){0,2}[ \t]+\d{1,5}(?![\d/:.-])"
        r"(?:,[ \t]*(?:Suite|Ste|Apt|Apto|Local)\.?[ \t]*\w{1,5})?",
        0.55,
    ),
    PatternSpec(
        "hospital_upper",
        HOSPITAL,
        # (not from a grammar word or verb: "SEEN AT THE CLINIC")
        # words one space apart (a wider gap is a column: "ED NOTE   MARLOW BAY HOSPITAL")
        r"\b(?!OF\b)(?:(?!(?:AT|TO|IN|FROM|SEEN|WITH|AND|OR|FOR|BY|ON|IS|WAS|VIA)\b)"
        r"(?:[A-Z][A-Z'&.-]+|&)[ \t]){1,5}(?:HOSPITAL|MEDICAL[ \t]+(?:CENTER|COMPLEX|CTR)|"
        r"MED[ \t]+CTR|CLINIC|"
        r"GENERAL|MEMORIAL|REGIONAL|MEDICAL|DEACONESS|CHILDREN'S|WOMEN'S|VA|VAMC|ASSOCIATES|"
        r"PRACTICE|PHARMACY|PARTNERS|PHYSICIANS|"
        r"HEALTH(?:[ \t]+(?:CENTER|SYSTEM|CARE))?|HEALTHCARE|INFIRMARY|REHAB(?:ILITATION)?"
        r"(?:[ \t]+(?:CENTER|HOSPITAL|&[ \t]+NURSING))?|NURSING[ \t]+(?:HOME|FACILITY|CENTER)|"
        r"HOSPICE|"
        r"INSTITUTE|CARE[ \t]+CENTER|MANOR|CENTER|CENTRE|PROGRAM|PROGRAMME|HOSP|"
        r"URGENT[ \t]+CARE|FIRE[ \t]+(?:RESCUE|DEPT|DEPARTMENT)|EMS|"
        # a practice named by its specialties: "... ORTHOPAEDIC & SPINE"
        r"ORTHOPA?EDICS?[ \t]+(?:&|AND)[ \t]+(?:SPINE|SPORTS(?:[ \t]+MEDICINE)?)|"
        r"HEART[ \t]+(?:&|AND)[ \t]+VASCULAR|"
        # a practice named by its discipline, after a name that is no department's word
        r"(?<=\b(?!(?:DEPARTMENT|DEPT|DIVISION|SECTION|SERVICE|GENERAL|ADULT|PEDIATRIC|"
        r"PAEDIATRIC|OUTPATIENT|INPATIENT|ACADEMIC|HOSPITAL|SPECIALTY|OF)\b)[A-Z][A-Z'.-]+[ \t])"
        r"(?:INTERNAL[ \t]+MEDICINE|FAMILY[ \t]+(?:MEDICINE|PRACTICE)|PRIMARY[ \t]+CARE)|"
        r"AMBULANCE[ \t]+SERVICES?|AMBULANCE|PATIENT[ \t]+TRANSPORT|DIAGNOSTICS|"
        r"RECOVERY[ \t]+(?:SERVICES|CENTER|CENTRE)|"
        # home health agencies, critical-access hospitals, labs, poison centres, flight teams:
        # "KEDZIE CROSSING HH", "SHAWNEE HILLS CAH", "SHEKHAWATI PATHOLOGY LAB", "TRI-STATE
        # NEONATAL FLIGHT", "AL-MEHR MEDICAL COMPLEX", "CYPRESS HAMMOCK REHAB & NURSING"
        r"HH|CAH|PATHOLOGY[ \t]+LAB|BIRTH[ \t]+(?:CTR|CENTER|CENTRE)|"
        r"POISON[ \t]+(?:CENTER|CENTRE|SERVICES|CONTROL)|NEONATAL[ \t]+FLIGHT)"
        # the body or part it names after the head: "... HEALTH AUTHORITY", "... HOSPITAL ANNEX"
        r"(?:[ \t]+(?:ANNEX|AUTHORITY|BOARD|TRUST|SERVICES?|WING|CAMPUS|DIVISION|NETWORK|"
        # the firm's own last word: "... HEALTH SCIENCES", "... MEDICAL LABS", "... MEDICAL
        # SUPPLY", "... TRIBAL HEALTH CORPORATION"
        r"SCIENCES|LABS?|LABORATORY|LABORATORIES|SUPPLY|CORPORATION|CORP|GROUP|ASSOCIATES|"
        # "... HEALTH ASSOCIATION", "... RECOVERY SERVICES", "QUEST DIAGNOSTICS"
        r"ASSOCIATION|COOPERATIVE|DIAGNOSTICS))?\b"
        # and its legal form: "SOL DE BISCAYNE HOME HEALTH, LLC", "... (P.) LTD."
        r"(?:,?[ \t]+(?:LLC|L\.L\.C\.|INC\.?|LTD\.?|PLLC|\(P\.\)[ \t]+LTD\.?)(?!\w))?",
        0.7,
    ),
    PatternSpec(
        # a care site named with its kind first, on its own line in capitals, as Malay,
        # Indonesian, Spanish or French names are written ("HOSPITAL TUANKU AMPUAN")
        "hospital_kind_first_upper",
        HOSPITAL,
        r"(?m)^[ \t]*(?![^\n]*\b(?:NOTE|NOTES|SUMMARY|REPORT|RECORD|LOG|FORM|MEDICINE|COURSE|"
        r"ADMISSION|DISCHARGE|DAY|STAY|ACQUIRED|PROGRESS|POLICY|TRANSFER|NUMBER|ORDERS?)\b)"
        r"(?P<phi>(?:HOSPITAL|HOSPITALE|H[ÔO]PITAL|KLINIK|CL[ÍI]NICA|SANATORIO|"
        r"RUMAH[ \t]+SAKIT|PUSKESMAS|POLIKLINIK|CENTRO[ \t]+DE[ \t]+SALUD)"
        r"(?:[ \t]+[A-Z][A-Z'.-]+){1,5})[ \t]*$",
        0.7,
    ),
    PatternSpec(
        # a health board or trust by its region: "NHS Grampian", "NHS Borders"
        "nhs_region",
        HOSPITAL,
        r"\b(?P<phi>NHS[ \t]+(?!(?:Number|No|Trust|Foundation|England|Digital|Direct|Wales|"
        r"Scotland|Choices|App|Login|Spine|Pensions?|Health|Ref|Reference|Card|Constitution|Test|"
        r"Funded|Funding|Care|Continuing|Hospital|Service|Services)\b)"
        r"\p{Lu}\p{Ll}+(?:[ \t]+(?:and[ \t]+)?\p{Lu}\p{Ll}+){0,2})",
        0.6,
    ),
    # ----- shapes seen in held-out notes (blind_3): dates, ids, places, facilities -------
    PatternSpec(
        "date_year_month", DATE, r"(?<![\d/.-])(?:19|20)\d{2}-(?:0[1-9]|1[0-2])(?![\d-]|\.\d)", 0.6
    ),
    PatternSpec("date_year_range_end", DATE, r"(?<=\b(?:19|20)\d\d[-–])(?:19|20)\d\d(?!\d)", 0.5),
    PatternSpec(
        "date_month_lower",
        DATE,
        r"\b(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|"
        r"june|july|august|september|october|november|december)\.?[ \t]+"
        r"(?:\d{1,2}(?:st|nd|rd|th)?(?![\d:/]|\.\d)|['’]\d{2}(?!\d)|(?:19|20)\d{2}(?!\d))",
        0.6,
    ),
    PatternSpec(
        # a lower-case month alone after "until", "til", "since" (quick notes and texts):
        # "in lagos til march", "off lithium since ~sept"; "may"/"march" only there
        "date_month_lower_after_cue",
        DATE,
        r"(?<=\b(?:til|till|until|since|thru|through)[ \t]{1,2}~?)"
        r"(?:jan|feb|mar|march|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)\b\.?"
        # after "in", "early"/"mid"/"late", or a drug stopped or started: "bnp 410 in aug",
        # "glipizide stopped oct", "started mid-sept" (not may/mar/march/dec there: verbs,
        # "decreased")
        r"|(?<=\b(?:in|early|mid|late|stopped|started|restarted|held|changed|last)[ \t-]{1,2}~?)"
        r"(?:jan|feb|apr|jun|jul|aug|sep|sept|oct|nov)\b\.?(?![\w/-])"
        r"(?![ \t]+(?:be|have|need|not|also|help|want|go|take|cause|require)\b)",
        0.55,
    ),
    PatternSpec(
        "date_day_month_after_cue",
        DATE,
        r"(?<=\b(?:dose|on|until|till|from|since|by|last|next|due|d/c|dc|through)[ \t]{1,2})"
        r"(?:3[01]|[12]\d|1[3-9])/(?:1[0-2]|0?[1-9])(?![\d/])",
        0.55,
        regex.I,
    ),
    PatternSpec(
        # a registration number after a signing clinician's credential: "Jane Roe MD 33-418"
        "provider_number",
        ID,
        r"(?<=\b(?:MD|M\.D\.|DO|RN|NP|PA|PharmD|DPT)[ \t]{1,3})\d{2,3}-\d{3,4}(?![\d-])",
        0.6,
    ),
    PatternSpec(
        "registry_number",
        ID,
        r"(?<=\b(?:run|trooper|officer|badge|GMC|NMC|HCPC|AHPRA|CPSO|ABHA|NHS|OHIP|CHI|IHI|"
        r"Medicare|Medicaid|NPI|provider)(?:\s+(?:no\.?|number|#))?[:#\s]{1,4})"
        r"\d[\d -]{3,18}\d(?![\d-])"
        r"|(?<=\(#)\d{3,6}(?=\))",
        0.6,
        regex.I,
    ),
    PatternSpec(
        # a phone number said digit by digit, as voicemail and call transcripts write it:
        # "six oh six, five five five, oh one nine two", "five-oh-four, five-five-five, ..."
        "phone_spoken_digits",
        PHONE,
        r"(?=(?i:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b)"
        r"\b(?:(?i:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
        r"(?:[ \t]*[,-][ \t]*|[ \t]+)){6,10}"
        r"(?i:zero|oh|one|two|three|four|five|six|seven|eight|nine)\b",
        0.5,
    ),
    PatternSpec(
        # a road by its number: "Hwy 13", "FM 95", "Loop 287", "Rt 3 Box 212", "KY-80",
        # "SR-87" (a state's code and a hyphen; not IL-6, CA-125, Ga-68, In-111)
        "road_by_number",
        LOCATION,
        # (not "RM 412", a room; "CR1", a response; "RT 25", radiation fractions)
        # (and the numbered roads and avenues of the plains and the Central Valley: "Rd 448",
        # "12586 Avenue 416")
        r"\b(?:(?:Hwy|HWY|Highway|HIGHWAY|Route|ROUTE|Rte|Rt|Loop|LOOP|FM|County[ \t]Road|Rd|"
        r"Road|(?<=\d[ \t])Avenue|(?<=\d[ \t])Ave)\.?"
        r"[ \t]?\d{1,4}[A-Z]?(?![\d/]|[.,]\d)(?:[ \t]+Box[ \t]+\d{1,5})?"
        # a state's code and a hyphen only on the way somewhere: "to KY-80 eastbound",
        # "SR-87 at SR-260 junction", "LA-6 W to" (not "FL-41 lenses", "MS-1" a unit)
        r"|(?:SR|SH|US|I|KY|LA|TX|NM|AZ|NC|SC|WV|VA|OH|MN|WI|NY|NJ|FL|MO|AR|OK|NE|KS|IA|MS|AL|TN|"
        r"UT|NV|MT|WY|WA|ND|SD|VT|NH|CT|RI)-\d{1,4}(?=[ \t]+(?i:[NSEW]B?|north|south|east|west|"
        r"[nsew][a-z]*bound|at|near|to|and|mile|mm|exit|junction|jct)\b|[ \t]*[&/]))\b",
        0.5,
    ),
    PatternSpec(
        # a crossing of two named streets: "LINWORTH RD / SNOUFFER RD", "Las Vegas Blvd S &
        # Reno Ave"
        "street_crossing",
        LOCATION,
        r"(?=\p{Lu})\b(?:\p{Lu}[\p{L}'.-]*[ \t]){1,3}"
        r"(?i:rd|road|st|street|ave|avenue|blvd|ln|lane|pkwy|pike|hwy|trl|way|ct)\.?"
        r"(?:[ \t][NSEW])?[ \t]*[/&][ \t]*"
        r"(?:\p{Lu}[\p{L}'.-]*[ \t]){1,3}"
        r"(?i:rd|road|st|street|ave|avenue|blvd|ln|lane|pkwy|pike|hwy|trl|way|ct)\b\.?",
        0.5,
    ),
    PatternSpec(
        # a Wisconsin or Illinois grid address: "W1442 Vandenbroek Rd", "N7210 County Rd K"
        "street_grid_number",
        LOCATION,
        r"\b[NSEW]\d{2,5}[ \t]+(?:\p{Lu}[\p{L}'.-]*[ \t]+){1,3}"
        r"(?:Rd|Road|Ln|Lane|Dr|Drive|St|Street|Ave|Hwy|Trl|Ct|Way)\b(?:[ \t]+[A-Z]{1,2}\b)?",
        0.55,
    ),
    PatternSpec(
        # a form's date with spaces around its slashes: "Date in: 09 / 27 / 2078"
        "date_spaced_slashes",
        DATE,
        r"\b(?:0?[1-9]|1[0-2])[ \t]/[ \t](?:0?[1-9]|[12]\d|3[01])[ \t]/[ \t](?:\d{4}|\d{2})\b",
        0.55,
    ),
    PatternSpec(
        # an interpreter's name before their badge or id number: "Vietnamese interpreter
        # (telephonic) Hue ID #44719", "Interp: Somali, in person (Faisal, agency badge SI-2290)",
        # "phone interpreter (Ukrainian) Oksana #61822"
        "interpreter_before_badge",
        PERSON,
        r"(?<=\b(?i:interp(?:reter)?)\b[^\n]{0,40}?)\b"
        r"(?!(?:Member|Patient|Employee|Photo|Student|State|Staff|Badge|Card|Visit|Vendor|"
        r"Agency|Company|Caller|Session|Call|Medicaid|Medicare)\b|(?i:interp))"
        # (one word alone: not the last word of an agency's name, "Midwest Interpreters")
        r"(?<!\p{Lu}\p{Ll}+[ \t])\p{Lu}\p{Ll}{2,}"
        r"(?=,?[ \t]+(?:(?:(?i:agency)[ \t]+)?(?i:badge|ID)\b[ \t]*(?:#|no\.?|number)?[ \t]*:?"
        r"[ \t]*|#)[A-Z]{0,3}-?\d{3,})",
        0.55,
        # (the name and its badge found first: the look-behind for "interpreter" runs only there)
        starts=r"\p{Lu}\p{Ll}{2,},?[ \t]+(?:(?i:agency)[ \t]+)?(?:(?i:badge|ID)\b|#)",
    ),
    PatternSpec(
        # an age past 89 in brackets after a relative's name: "Wife Carmela (91!) staying at"
        # (not a lab value or a dose in brackets: "Hgb (92) stable")
        "age_after_name_in_brackets",
        AGE,
        r"(?<=\b(?i:wife|husband|spouse|partner|mother|father|mom|dad|grandmother|grandfather|"
        r"grandma|grandpa|aunt|uncle|sister|brother|neighbou?r|friend)[ \t]+\p{Lu}\p{Ll}+[ \t]?\()"
        r"(?:9\d|1[01]\d)(?=[!)]|[ \t]*(?:y/?o|yrs?|years?)\b)",
        0.5,
    ),
    PatternSpec(
        # a licence written with its state and board: "Lic NV-DO 2847", "License # TX-RN 88213",
        # "lic #LCSW-TN 7732"
        "licence_board_code",
        ID,
        r"(?<=\b(?i:lic|licen[cs]e)\.?[ \t]*(?:(?i:no\.?|number|#)[ \t]*)?:?[ \t]{0,2})"
        r"[A-Z]{2,5}-[A-Z]{1,5}[ \t-]?\d{3,}(?![\w-])",
        0.6,
    ),
    PatternSpec(
        "member_number_spaced",
        ID,
        r"(?<=\b(?:subscriber|member|policy|insurance|ins|plan|account|acct|ID)[:#\s]{1,4})"
        r"[A-Z]{1,4}[ ]\d{5,}(?!\d)",
        0.6,
    ),
    PatternSpec(
        # a practice named by a place and its discipline ("Pioneer Valley GI", "West Acres
        # Neurology"), not a service's own name ("Peds GI", "Pediatric Neurology")
        "practice_by_discipline",
        HOSPITAL,
        r"\b(?!(?:Peds|Pediatric|Paediatric|Adult|Upper|Lower|General|Child|Outpatient|"
        r"Inpatient|Interventional|Transplant|Vascular|Surgical|Medical|Clinical|Acute|"
        r"Behavioral|Cognitive|Stroke|Neuro|Hepatology|Advanced|Consult|Consultant|The)\b)"
        r"(?:(?:\p{Lu}\p{Ll}[\p{L}'&-]*[ \t]){1,3}(?:GI|Neurology|Gastroenterology)"
        r"|(?!(?:UPPER|LOWER|PEDS|PEDIATRIC|ADULT|GENERAL|DIVISION|DEPARTMENT|DEPT)\b)"
        r"(?:[A-Z]{3,}[ \t]){1,3}(?:NEUROLOGY|GASTROENTEROLOGY))\b"
        r"(?![ \t]+(?:consult|service|team|fellow|attending|resident|bleed|note|clinic\s+note))",
        0.5,
    ),
    PatternSpec(
        "pharmacy_chain",
        HOSPITAL,
        r"\b(?:CVS|Walgreens|Rite[ \t]+Aid|Walmart|Costco|Kroger|Boots|"
        r"Shoppers[ \t]+Drug[ \t]+Mart|(?i:walgreens|rite[ -]aid|duane[ -]reade|labcorp))"
        r"(?:[ \t]+Pharmacy)?(?:[ \t]*#[ \t]*\d+)?"
        # a chain or a laboratory named by an English word, only after "at/to/from"
        r"|(?<=\b(?i:at|to|from|via)[ \t])(?:Quest|QUEST|Kroll|KROLL)\b",
        0.6,
    ),
    PatternSpec(
        "service_name",
        HOSPITAL,
        r"\b(?:\p{Lu}[\p{L}'&.-]*[ \t]+){1,3}(?:Ambulance(?:[ \t]+Service)?|EMS|Paramedics|"
        r"Fire[ \t]+Rescue|VNA|Visiting[ \t]+Nurses?(?:[ \t]+Association)?|Home[ \t]+Care|"
        r"Diagnostics?(?:[ \t]+PSC)?|Spine(?:[ \t]+(?:Center|Centre))?|Behavioral)\b"
        r"|(?<![\w-])(?:[a-z]+[ \t]+){1,3}vna\b",
        0.55,
    ),
    PatternSpec(
        # a care site named before its kind ("Oak Hollow SNF", "Mercy Ridge ED") or after a
        # facility label ("Facility: Cedar Crest")
        "facility_before_kind",
        HOSPITAL,
        r"\b(?!(?:The|the|Our|This|That|Same|Main|Adult|Pediatric|Paediatric|Peds|Emergency|"
        r"Trauma|Satellite|Local|Outside|Community|Inpatient|Outpatient|Hospital|Medical|"
        r"Surgical|Psychiatric|Psych|Skilled|Nursing|Home|Rehab|Acute|Previous|Prior|New|"
        r"Current|Receiving|Sending|Referring|Nearest|Closest)\b)"
        r"(?<!(?:^|[.!?:;\n])[ \t]{0,3})(?:\p{Lu}\p{Ll}+[ \t]){1,3}"
        r"(?=(?:SNF|ALF|LTAC|LTACH|OTP|IOP|PHP|CHC|FQHC|ED|ER)\b)"
        # a system's or centre's initials after the town or name it serves, wherever the
        # line starts: "Hazard ARH", "Mary Breckinridge ARH", "Sheltering Arms SBHC",
        # "Magnolia HVI", "Eastside RMC"
        r"|\b(?!(?:The|the|Our|This|That|Same|Main|Outside|Local|Prior|Previous|Nearest)\b)"
        r"(?:\p{Lu}\p{Ll}+[ \t]){1,3}"
        r"(?=(?:ARH|RMC|UMC|GMC|MMC|CMC|BMC|SMC|DGH|SBHC|HVI|CVI|VAMC|CBOC|RHC|CAH)\b)"
        r"(?:ARH|RMC|UMC|GMC|MMC|CMC|BMC|SMC|DGH|SBHC|HVI|CVI|VAMC|CBOC|RHC|CAH)\b"
        r"|(?<=\b(?:Facility|Hospital|Referring[ \t]+facility|Receiving[ \t]+facility|"
        r"Sending[ \t]+facility|Agency|Pharmacy|Practice|Placement|Discharged[ \t]+to)[ \t]*:"
        r"[ \t]*)(?:\p{Lu}[\p{L}'’.&-]*[ \t]?){1,5}(?<![ \t])",
        0.55,
    ),
    PatternSpec(
        # "Elm St and Main St": a short street suffix with no number, not before a name
        "street_short_suffix",
        LOCATION,
        r"\b(?:\p{Lu}[\p{L}'-]+[ \t]+){1,2}(?:St|Rd|Ave|Blvd|Ln)\b\.?(?![ \t]*\p{Lu})",
        0.55,
    ),
    PatternSpec(
        # a state abbreviation after a city with no comma ("Nashua NH"), or after "in/to/from"
        # when the abbreviation is not also a clinical one (not IN, OR, MD, CT, MS, MI, CA...)
        "state_abbr_loose",
        LOCATION,
        rf"(?<=\b\p{{Lu}}\p{{Ll}}{{2,}}[ \t])(?!MD|DO|PA|OR|IN|ME|DE|ID|HI|OK|CO|MS|MI|CT|CA|GA|"
        rf"LA|AL|MO|OH|VA|SD|ND|SC|NC|NE|WA|RN|NP|PT|OT)"
        rf"{_STATE_ABBR}(?=[ \t]*(?:$|[,.;)]|\n|[ \t]\d{{5}}))"
        r"|(?<=\b(?:in|to|from|moved\s+to|lives\s+in)[ \t])(?:AK|AZ|AR|FL|IA|KS|KY|MA|MN|MT|NE|NV|"
        r"NH|NJ|NM|NY|NC|RI|SC|TN|TX|UT|VT|WV|WI|WY|DC)(?=[ \t]*(?:$|[,.;)]|\n|[ \t]+(?:in|with|"
        r"for|since|last|and|to|on)\b))",
        0.5,
    ),
    PatternSpec(
        # a mobile-home or RV park, with the lot when written: "Lot 22 Hickory Hollow MHP",
        # "Space 14, Silver Sage RV Park", "Willow Creek Mobile Home Park"
        "mobile_home_park",
        LOCATION,
        r"\b(?:(?:Lot|Space|Site|Trailer|Pad|Unit)[ \t]\#?\d{1,4}[A-Z]?,?[ \t]+)?"
        r"(?:\p{Lu}[\p{Ll}'’]+[ \t]+){1,3}(?:MHP|Mobile[ \t]+Home[ \t]+(?:Park|Court|Estates|"
        r"Village|Community)|RV[ \t]+(?:Park|Resort)|Trailer[ \t]+(?:Park|Court|Ct))\b",
        0.6,
    ),
    PatternSpec(
        # a state's code naming its programme or agency: "WV CHIP", "MO PDMP", "MO HealthNet",
        # "KY Medicaid", "BCBS KS" (not the codes that are also clinical words: "PA license",
        # "MD license", "OR staff", "IN Medicaid" read as a preposition)
        "state_before_program",
        LOCATION,
        rf"\b(?!(?:PA|MD|DO|OR|IN|ME|OK|HI|ID|CO|MS|MI|CT|DE)\b){_STATE_ABBR}(?=[ \t]+"
        r"(?:PDMP|PMP|CSMP|PMIX|Medicaid|Medicare|CHIP|HealthNet|Health[ \t]+Net|Quitline|DMV|"
        r"DHS|DSS|DCFS|DCS|DFS|DOC|DOH|Dept|Department|State[ \t]+Police|Highway[ \t]+Patrol|"
        r"Lottery|Driver'?s[ \t]+License|DL|hospice|form|forms|schedule|NBS|Newborn|BON|Registry|"
        r"registry|child[ \t]+care|law|laws|statute|statutes|Bureau)\b)"
        # a state's law, statute or bureau, whatever its code ("under OR law", "per PA
        # statute", "PA Bureau of Workers' Compensation"; not "IN LAW" of a mother-in-law)
        rf"|\b(?!IN\b)(?-i:{_STATE_ABBR})(?=[ \t]+(?:law|laws|statute|statutes|Bureau[ \t]+of)\b)"
        r"|(?<=\b(?:BCBS|Blue[ \t]+Cross(?:[ \t]+Blue[ \t]+Shield)?(?:[ \t]+of)?)[ \t]+)"
        rf"{_STATE_ABBR}\b",
        0.5,
    ),
    PatternSpec(
        # a ward named by a word and its floor, as hospitals name units after birds, trees or
        # donors: "Kestrel 7 tele", "Unit: Heron 5", "Osprey 3 L&D", "(Kestrel 8)" - only
        # before a unit's word, a bracket or the line's end (not "Type 2 DM", "Stage 4,")
        "ward_word_and_floor",
        HOSPITAL,
        # a ward's word, then its floor: before a unit's word in any case; in mixed case also
        # before a bracket or the line's end ("(Kestrel 8)", "Unit: Heron 5"); words in
        # capitals only before a unit's word (a score in capitals is a score: "(LAVI 38)")
        rf"(?m)\b{_WARD_NOT}(?:\p{{Lu}}\p{{Ll}}{{2,}}|{_WARD_NOT_UPPER}\p{{Lu}}{{4,}})"
        rf"[ \t]\d{{1,2}}(?![\d/:.,-]\d)(?=[ \t]*\b{_WARD_UNIT_WORD}\b)"
        rf"|(?m)\b{_WARD_NOT}\p{{Lu}}\p{{Ll}}{{2,}}[ \t]\d{{1,2}}(?![\d/:.,-]\d)(?=[ \t]*(?:\)|$))",
        0.55,
    ),
    PatternSpec(
        # the initials heading an entry of a message log, after its date and time: "---- 10/15/87
        # 1125 RCL ----", "4/2/88 11:50 NTB:"
        "initials_after_log_stamp",
        PERSON,
        r"(?m)(?<=\b\d{1,2}/\d{1,2}/\d{2,4}[ \t]+\d{1,2}:?\d{2}(?:[ \t]?[AaPp][Mm])?[ \t]+)"
        r"(?!(?:AM|PM|ET|CT|MT|PT|EST|CST|MST|PST|EDT|CDT|MDT|PDT|UTC|GMT|CM|CC|RE|TO|FROM|WS|"
        r"ID|IP|RN|MD|NP|PA|SW|OT|RT|DX|HX|RX|TX|MA|LPN|BP|HR|RR|ED|ER|OR|ICU|NOTE|SENT)\b)"
        r"[A-Z]{2,4}"
        r"(?=[ \t]*(?::|-{2,}|$))",
        0.55,
    ),
    PatternSpec(
        # a practice named by two fields joined with "&": "Black Belt Arthritis &
        # Rheumatology", "Garden Isle Diabetes & Endocrine", "Cook Inlet Digestive & Liver"
        "practice_two_fields",
        HOSPITAL,
        r"\b(?!(?:The|Department|Dept|Division|Section|Center|Centre|Adult|Pediatric|Paediatric|"
        r"Outpatient|Inpatient|Clinic|Service|Services|Program|Of|And|For|At|To|In)\b)"
        r"(?:\p{Lu}[\p{L}'’.-]*[ \t]+){1,3}"
        rf"(?:{_FIELD})[ \t]+(?:&|and)[ \t]+(?:{_FIELD})"
        r"(?:[ \t]+(?:Center|Centre|Clinic|Associates|Institute|Specialists|Care|Group))?"
        r"(?![\p{L}\d])",
        0.55,
    ),
    PatternSpec(
        # a street corner, as people give directions: "on Kessler and 4th", "corner of Pike &
        # 3rd", "at 5th & Marquette" (an ordinal street on one side, or "corner of": "on
        # Lasix and Coreg" is no corner)
        "cross_streets",
        LOCATION,
        r"(?<=\b(?:on|at|near|off|by)[ \t]+(?:the[ \t]+)?(?:corner[ \t]+of[ \t]+)?)"
        r"(?:\d{1,3}(?:st|nd|rd|th)[ \t]+(?:and|&)[ \t]+(?:\p{Lu}\p{Ll}+|\d{1,3}(?:st|nd|rd|th))"
        r"|\p{Lu}\p{Ll}+[ \t]+(?:and|&)[ \t]+\d{1,3}(?:st|nd|rd|th))(?![\p{L}\d])"
        r"|(?<=\bcorner[ \t]+of[ \t]+)(?:\p{Lu}\p{Ll}+|\d{1,3}(?:st|nd|rd|th))[ \t]+(?:and|&)[ \t]+"
        r"(?:\p{Lu}\p{Ll}+|\d{1,3}(?:st|nd|rd|th))(?![\p{L}\d])",
        0.55,
    ),
    PatternSpec(
        # a care site by its acronym ending in the kind of site: "MLGH", "CVMC", "HPUMC" (not
        # the generic kinds: CHC, FQHC, VAMC, AMC)
        "hospital_acronym",
        HOSPITAL,
        r"\b(?!(?:CHC|FQHC|VAMC|AMC|LTCH|LTACH|CAH|PCMH|ACH|MCH|HCH|GCH|BMC|UMC|RMC|SMC|IMC|"
        r"CMC|PMC|GMC|DMC|EMC|TMC|MMC|HMC|NMC|OMC|ECH|ICH|PCH|SCH|TCH|UCH|UUH|RRH|FRH|"
        # words in capitals that end the same way
        r"HIGH|THIGH|SIGH|NIGH|COUGH|ROUGH|TOUGH|LAUGH|DOUGH|WEIGH|NEIGH|ENOUGH|TROUGH|BOUGH)\b)"
        r"(?!(?:UGH|AUH|LMC)\b)[A-Z]{1,4}(?:GH|MC|UH)\b",
        0.5,
    ),
    PatternSpec(
        # a town in capitals after a care site's name in capitals and a comma, as letterheads
        # write it: "... TEACHING HOSPITAL, KUMASI", "... INFIRMARY, DUNDEE"
        "town_after_hospital_upper",
        LOCATION,
        r"(?<=\b(?:HOSPITAL|CLINIC|INFIRMARY|MEDICAL[ \t]+CENT(?:ER|RE)|HEALTH[ \t]+CENT(?:ER|RE)|"
        r"HOSPICE),[ \t]{1,2})(?!(?:DEPARTMENT|DEPT|DIVISION|SECTION|UNIT|WARD|CLINIC|SERVICES?|"
        r"INC|LLC|LTD|PLC|NHS|TRUST|THE|OF|AND)\b)[A-Z]{3,}(?:[ \t][A-Z]{3,})?(?![\p{L}\d])",
        0.55,
    ),
    PatternSpec(
        # a state named by its style, in any case: "STATE OF WISCONSIN", "Commonwealth of
        # Massachusetts"
        "state_of_name",
        LOCATION,
        rf"(?<=\b(?:State|Commonwealth)[ \t]+of[ \t]+){_STATE_NAME}\b",
        0.6,
        regex.I,
    ),
    PatternSpec(
        "route_number",
        LOCATION,
        r"\b(?:Route|Rte|Rt|Hwy|Highway|Interstate)\.?[ \t]?\d{1,3}[A-Z]?\b|\bI-\d{1,3}\b"
        # county, state, tribal and US roads, with the house number when written: "4417 State
        # Hwy JJ", "Co Rd 1187", "County Road 412", "Road 881", "BIA Rt 7", "US-2"
        r"|(?:\b\d{1,5}[ \t]+)?\b(?:(?:State|County|Co\.?|BIA|US|Farm[ \t]+to[ \t]+Market|FM|"
        r"Ranch)[ \t]+)?(?:Road|Rd|Route|Rte|Rt|Hwy|Highway)\.?[ \t]?(?:\d{1,4}[A-Z]?|"
        r"(?<=(?:State|County)[ \t]+(?:Road|Rd|Route|Rte|Rt|Hwy|Highway)\.?[ \t])[A-Z]{1,2})\b"
        r"(?<=\b(?:State|County|Co\.?|BIA|US|Market|FM|Ranch|\d)[ \t]+\S+[ \t]?\S+"
        r"|\bRoad[ \t]\d+|\bCo\.?[ \t]?Rd\.?[ \t]?\d+)"
        r"|\bUS-\d{1,3}\b"
        # rural addresses: "Rural Route 2, Box 44", "RR 3 Box 12", "HC 65 Box 120" (RR and HC
        # only with their box: "RR 18" is a respiratory rate)
        r"|\bRural[ \t]+Route[ \t]+\d{1,4}(?:,?[ \t]+Box[ \t]+\d{1,5})?"
        r"|\b(?:RR|HC|Star[ \t]+Route)[ \t]?\d{1,4},?[ \t]+Box[ \t]+\d{1,5}\b",
        0.55,
    ),
    PatternSpec(
        # a house number before a street that needs no suffix: "2941 N Broadway", "711
        # BROADWAY N"
        "street_without_suffix",
        LOCATION,
        r"\b\d{1,6}[ \t]+(?:[NSEW]\.?[ \t]+)?(?:Broadway|BROADWAY|Bowery|Embarcadero)"
        r"(?:[ \t](?:N|S|E|W)\b)?",
        0.6,
    ),
    PatternSpec(
        "street_address_lower",
        LOCATION,
        r"\b\d{1,5}[ \t]+(?!(?:min|mins|minutes?|hrs?|hours?|mi|miles?|km|kms|sec|secs|"
        r"seconds?|days?|weeks?|yrs?|years?|minute's|hour's)\b)(?:[nsew]\.?[ \t]+)?"
        # the street's words: no unit, count or dose ("2 mm st elevation", "3 times st")
        r"(?:(?!(?:mm|mg|mcg|ml|cm|kg|g|units?|meq|mmol|times|x|tabs?|caps?|puffs?|drops?|"
        r"doses?|beats?|bpm|cc|l|lpm|pm|am|hr|mmhg|mo|wk|wks|in|on|at|of|the|per|and|or|to)\b)"
        r"(?:\d{1,3}(?:st|nd|rd|th)|[a-z][a-z'-]+)[ \t]+){1,3}"
        r"(?:street|st|avenue|ave|road|rd|lane|ln|drive|dr|court|ct|way|blvd|boulevard|terrace|"
        r"ter|place|pl|circle|cir|pkwy|parkway|hwy|highway|sq|loop|trail|trl|pike)\b\.?"
        r"(?![ \t]+(?:elevation|elevations|depression|segment|changes?|wave|t\b))"
        r"(?:,?[ \t]+(?:apt|apartment|suite|ste|unit|flat|room|#)\.?[ \t]*\w+)?"
        # "2 chapel row", "14 stable mews" (not "3 in a row", "5 days in a row")
        r"|\b\d{1,5}[ \t]+(?!(?:in|on|at|of|a|the|per|times?|days?|nights?|weeks?|hours?|"
        r"months?|years?)\b)[a-z][a-z'-]{2,}[ \t]+(?:row|mews|wynd)\b",
        0.6,
    ),
    PatternSpec(
        # streets named first by their kind: "88 Rue Sainte-Catherine", "12 Calle Mayor",
        # a flat before the house number ("Flat 2, 14 Wellington Road")
        "street_kind_first",
        LOCATION,
        r"\b\d{1,5},?[ \t]+(?:Rue|rue|Calle|calle|Via|via|Avenida|Rua|Chemin|Boulevard|Strada|"
        r"Alameda|Camino|Paseo|Travessa|Largo|Praça|Calzada|Carrera|Rambla)"
        r"(?:[ \t]+(?:de|del|la|le|des|du|da|do|dos)){0,2}(?:[ \t]+\p{Lu}[\p{L}'-]+){1,3}"
        r"|\b(?:Flat|Apt|Apartment|Unit|Suite)\.?[ \t]?\d+[A-Z]?(?=,[ \t]*\d{1,5}[ \t]+\p{Lu})",
        0.6,
    ),
    PatternSpec(
        # HL7 v2 fields pasted into a note: "QUINTERO^ANA^M" (family^given^middle), and an
        # address "14 LARKSPUR LN^^DORCHESTER^MA^02124" (city and state between carets)
        "caret_name",
        PERSON,
        r"(?<![\w^])\p{Lu}[\p{L}'’-]+\^\p{Lu}[\p{L}'’-]*(?:\^\p{Lu}[\p{L}'’.-]*)?(?![\w])",
        0.6,
    ),
    PatternSpec(
        "caret_address_place",
        LOCATION,
        rf"(?<=\^)\p{{Lu}}[\p{{L}} .'’-]+(?=\^{_STATE_ABBR}\^)|(?<=\^){_STATE_ABBR}(?=\^\d{{5}})",
        0.6,
    ),
    PatternSpec(
        # European streets, number after the name: "Hauptstraße 5", "Calle Mayor 12",
        # "Via Roma 3", "Keizersgracht 123"
        "street_number_after",
        LOCATION,
        r"\b(?:\p{Lu}[\p{L}-]*(?:straße|strasse|weg|gasse|platz|allee|laan|straat|gracht|"
        r"vej|gade|gatan|vägen|katu|utca|ulica)"
        r"|(?:Calle|Avenida|Via|Viale|Rua|Plaza|Piazza|Paseo|Carrer|Travessa|Largo)"
        r"(?:[ \t]+(?:de|del|la|di|da|do|dos|des|du|della))*(?:[ \t]+\p{Lu}[\p{L}'-]+){1,3})"
        r",?[ \t]\d{1,4}[a-zA-Z]?\b",
        0.6,
    ),
    PatternSpec(
        # postcodes outside the US and UK: Irish Eircode after a town ("Dublin D02 X285"),
        # Dutch "1012 AB", and digits with a trailing letter ("1234567T")
        "postcode_europe",
        ZIP,
        r"(?=[A-Z]\d\d[ ])(?<=\p{Lu}\p{Ll}+,?[ \t])[A-Z]\d{2}[ ][A-Z0-9]{4}\b"
        r"|\b\d{4}[ ][A-Z]{2}(?=[ \t,]+\p{Lu}\p{Ll})",
        0.55,
    ),
    PatternSpec(
        "digits_letter_id",
        ID,
        r"(?<![\w/.-])\d{7,9}[A-Z]{1,2}(?![\w/-])(?<!\d(?:IU|U|MG|ML|G|L|M|MM|CM|KG))",
        0.55,
    ),
    PatternSpec(
        # AP-style state abbreviations after a city: "Worcester, Mass.", "Springfield, Ill."
        "state_ap_abbreviation",
        LOCATION,
        r"(?<=\p{Lu}\p{Ll}+,[ \t]{1,2})(?:Ala|Ariz|Ark|Calif|Colo|Conn|Del|Fla|Ga|Ill|Ind|Kan|"
        r"Ky|La|Md|Mass|Mich|Minn|Miss|Mo|Mont|Neb|Nev|N\.H|N\.J|N\.M|N\.Y|N\.C|N\.D|Okla|Ore|"
        r"Pa|R\.I|S\.C|S\.D|Tenn|Tex|Vt|Va|Wash|W\.Va|Wis|Wyo)\.",
        0.6,
    ),
    PatternSpec(
        # ids written after a hash ("pump #A-88213"), a letter and 6-9 digits (licences,
        # passports: "A4471229"), UK number plates ("WX21 KLM")
        "hash_or_letter_id",
        ID,
        r"(?=[A-Z])(?<=#[ \t]?)[A-Z]{1,3}-?\d[\d-]{3,}(?<=\d)(?![\w-])"
        r"|(?<![\w/.-])[A-Z]\d{6,9}(?![\w/-])"
        r"|\b[A-Z]{2}\d{2}[ ][A-Z]{3}\b"
        # GS1 device identifiers: "(01)00643169001763(17)260228(10)4417"
        r"|(?:\(\d{2,4}\)[\dA-Z-]+){2,}",
        0.55,
    ),
    PatternSpec(
        "street_ordinal_or_commonwealth",
        LOCATION,
        r"\b(?:(?:West|East|North|South|W\.?|E\.?|N\.?|S\.?|NW|NE|SW|SE)[ \t]+)?\d{1,3}"
        r"(?:st|nd|rd|th)[ \t]+(?:St|Street|Ave|Avenue)\b\.?(?:[ \t]+(?:N|S|E|W|NW|NE|SW|SE)\b)?"
        # a grid city's quadrant street without its kind: "tent near SE 82nd", "on NW 54th"
        r"|\b(?:NW|NE|SW|SE)[ \t]+\d{1,3}(?:st|nd|rd|th)\b"
        r"|\b\d{1,5}[ \t]+(?:\p{Lu}[\p{L}'-]+[ \t]+){1,3}(?:Pde|Parade|Cres|Close|Grove|Mews|"
        r"Esplanade|Hwy|Rd|St)\b\.?",
        0.6,
    ),
    PatternSpec(
        "state_before_plate",
        LOCATION,
        rf"\b{_STATE_ABBR}(?=[ \t]+(?:(?:commercial|MC|motorcycle|temp|temporary|dealer|trailer)"
        r"[ \t]+)?(?:lic|license|licence|plate|plates|reg|registration|tag|DL)\b)"
        # the plate's state after the word: "partial plate PA \"KLR-4??\"", "plate MD 8CJ3391"
        rf"|(?<=\b(?:plate|tag)[ \t]{{1,2}}){_STATE_ABBR}"
        r"(?=[ \t]+[\"“']?[A-Z0-9]{2,4}[ -]?[A-Z0-9])",
        0.6,
    ),
    PatternSpec(
        "state_spaced_comma",
        LOCATION,
        rf"(?<=\p{{L}}[ \t]+,[ \t]{{1,2}}){_STATE_ABBR}(?=[ \t]+\d{{5}}(?!\d))",
        0.6,
    ),
    PatternSpec(
        "region_outside_us",
        LOCATION,
        r"\b(?:NSW|VIC|QLD|TAS|ACT)(?=[ \t]+\d{4}\b)"
        r"|(?<=\p{L}{3},[ \t]{0,2})(?:ON|QC|BC|AB|MB|SK|NS|NB|NL|PE|YT|NU)(?![\p{L}\d])"
        r"|\b(?:Karnataka|Maharashtra|Tamil[ \t]+Nadu|Kerala|Telangana|Andhra[ \t]+Pradesh|"
        r"Gujarat|Rajasthan|Uttar[ \t]+Pradesh|West[ \t]+Bengal|Punjab|Haryana|Bihar|Odisha|"
        r"Madhya[ \t]+Pradesh|Ontario|Quebec|Québec|British[ \t]+Columbia|Alberta|Manitoba|"
        r"Saskatchewan|Nova[ \t]+Scotia|New[ \t]+Brunswick|Newfoundland|New[ \t]+South[ \t]+Wales|"
        r"Queensland|Tasmania)\b",
        0.55,
    ),
    PatternSpec(
        "postcode_outside_us",
        ZIP,
        r"(?<=\b(?:NSW|VIC|QLD|SA|TAS|ACT|NT|WA)[ \t]+)\d{4}(?!\d)"
        r"|(?<=\p{L}[ \t]*[-–,][ \t]*)\d{6}(?=,?[ \t]*(?:India|\p{Lu}\p{Ll}+,[ \t]*India))"
        r"|(?<=\b(?:PIN|Pin[ \t]?code)[:\s]{1,3})\d{6}(?!\d)",
        0.6,
    ),
    PatternSpec(
        "city_zip_without_state",
        LOCATION,
        r"(?<=,[ \t]*)(?:\p{Lu}\p{Ll}+[ \t]){0,1}\p{Lu}\p{Ll}+(?=[ \t]+\d{5}(?:-\d{4})?(?!\d))",
        0.55,
    ),
    PatternSpec(
        "zip_after_city",
        ZIP,
        r"(?<=,[ \t]*(?:\p{Lu}\p{Ll}+[ \t]){0,1}\p{Lu}\p{Ll}+[ \t]+)\d{5}(?:-\d{4})?(?!\d)",
        0.55,
    ),
    PatternSpec(
        "initials_after_role",
        PERSON,
        r"(?m)(?<=\b(?:RN|(?i:signed|sign-?off|from:|to:|by:|phlebotomist:|tech:|scribe:|"
        r"co-?signed|entered\s+by|signed\s+by|reviewed\s+by|initials:?))[ \t]{1,2})"
        r"(?!(?:ED|ER|OR|ICU|CCU|MICU|SICU|PACU|NICU|PICU|SNF|LTAC|IR|CT|MRI|OSH|PCP|GI|US|VA|"
        r"PT|OT|ST|ME|IV|PO)\b)"
        r"(?:(?:\p{Lu}\.){2,3}|[A-Z]{2,3})(?=[ \t]*(?:$|/|\(|\||to:)|[ \t]+\d{1,4}[/:.-]\d)",
        0.5,
    ),
    PatternSpec(
        "initials_list_item",
        PERSON,
        r"(?m)(?<=^[ \t]*(?:\d{1,2}[.)][ \t]*|(?:Rm|Room|Bed|bed|Bay|bay)[ \t]*\d+[A-Z]?[ \t]+)?)"
        r"(?:\p{Lu}\.){2,3}(?=[ \t]*\((?:\d{4,}|\p{Lu}\p{Ll}+)\))",
        0.55,
    ),
    PatternSpec(
        # sign-out and census lists: "MCALLISTER, EWAN  MR4419022", "OKONJO, CHIOMA  61F"
        "surname_comma_given_upper",
        PERSON,
        r"(?m)(?<=^[ \t]*(?:\d{1,3}[).][ \t]*)?(?:(?:Rm|Bed|bed)[ \t]*\d+[A-Z-]*[ \t]+)?)"
        r"[A-Z][A-Z'’-]+(?:[ \t][A-Z][A-Z'’-]+)?[ \t]?,[ \t]?[A-Z][A-Z'’-]+(?:[ \t][A-Z]\.?)?"
        r"(?=[ \t]{1,3}(?:MR|MRN|DOB|#|\d{1,3}[ \t]?(?:[MF]|y|yo)\b|\d{5,}))",
        0.6,
    ),
    PatternSpec(
        # a schedule or census table's cell holding "FAMILY, GIVEN" / "Family, Given"
        "surname_comma_given_cell",
        PERSON,
        r"\|[ \t]{0,3}(?P<phi>\p{Lu}[\p{L}'’-]+(?:[ \t]\p{Lu}[\p{L}'’-]+)?,[ \t]?\p{Lu}[\p{L}'’-]+"
        r"(?:[ \t]\p{Lu}[\p{L}'’-]+|[ \t]\p{Lu}\.?)?)(?=[ \t]*\|)",
        0.6,
    ),
    # ----- names with fixed shapes (more in names.py) ------------------------------------
    PatternSpec(
        "titled_initials",
        PERSON,
        rf"\b{_TITLE}\.?[ \t]{{1,2}}(?P<phi>(?:\p{{Lu}}\.[ \t]?){{2,3}})(?!\p{{Lu}}\p{{Ll}})",
        0.6,
    ),
    PatternSpec(
        "titled_name", PERSON, rf"\b{_TITLE}\.?\s{{1,2}}(?:{_NAME_WORD}\s+){{0,3}}{_NAME_WORD}", 0.8
    ),
    PatternSpec(
        "name_after_cue",
        PERSON,
        r"(?<=\b(?:by|with|from|contact(?: is)?|nurse|RN|son|daughter|wife|husband|"
        r"sister|brother|mother|father|spouse|partner|friend|caregiver|guardian),?"
        rf"\s{{1,2}})(?:{_NAME_WORD}\s+){{1,3}}{_NAME_WORD}\b",
        0.6,
    ),
    PatternSpec(
        "name_with_credentials",
        PERSON,
        rf"\b{_TITLE_CASE_WORD}(?:\s+[A-Z]\.)?\s+{_TITLE_CASE_WORD}(?=,?\s+(?:MD|M\.D\.|DO|RN|NP|PA|"
        r"PA-C|PhD|MBBS|CNA|LPN)(?![\p{L}]))",
        0.75,
    ),
    PatternSpec(
        # any label ending in a number word ("Folder No.:", "Docket No", "EEG #:", "Case Ref")
        # before a value with three digits or more, with its scheme letters if spaced
        # ("CRH 49-88-210"); not a page, bed, room or dose number
        "id_after_any_label",
        ID,
        # (the number word first, its label looked at behind it: cheaper than trying a
        # label at every word)
        r"(?<=\p{L}{2}[ \t]?)(?<!\b(?i:page|room|rm|bed|bay|ward|step|item|version|size|cycle|"
        r"dose|day|week|level|line|table|figure|fig|grade|stage|type|class|gauge|lead|channel|"
        r"option|question|box|flat|apt|house|phone|tel|fax|pager|bleep|ext|gravida|para|score)"
        r"[ \t]?)"
        r"(?-i:No\.?|NO\.?|Nr\.?|Number|Num\.?|\#|ID|Ref\.?)"
        r"[ \t]*[:.#]?[ \t]{0,3}"
        r"(?P<phi>(?:[A-Z]{2,6}[ ](?=\d))?(?=(?:[A-Za-z/.\-]*\d){3})"
        r"[A-Za-z0-9]+(?:[/.\-][A-Za-z0-9]+)*(?:[ ]\d{2,}(?![\d/:.]))*)",
        0.7,
    ),
    PatternSpec(
        # an acronym label and a colon before digit groups joined by hyphens (seven digits
        # or more: "TRN: 118-442-903"), an id whatever the acronym stands for
        "id_acronym_colon",
        ID,
        r"\b[A-Z]{2,5}:[ \t]*(?P<phi>(?=(?:-?\d){7})\d{2,}(?:-\d{2,}){1,4})(?![\d-])",
        0.6,
    ),
    PatternSpec(
        # a scheme's acronym written again before its number ("NHF card NHF 0299173",
        # "ACC claim ACC 70 44 219")
        "id_scheme_repeated",
        ID,
        r"\b(?P<scheme>[A-Z]{2,5})\b[^\n\d]{1,20}?\b"
        r"(?P<phi>(?P=scheme)[ ]?\d{2,}(?:[ ]\d{2,})*(?:-[A-Z0-9]{1,3})?)(?![\w-])",
        0.7,
    ),
    PatternSpec(
        # an ISBT 128 donation number on a blood or tissue unit ("G0812 79 334 512 Q")
        "donation_number",
        ID,
        r"\b[A-Z]\d{4}[ ]?\d{2}[ ]?\d{3}[ ]?\d{3}(?:[ ][A-Z0-9](?![\w]))?",
        0.7,
    ),
    PatternSpec(
        # each of the serial or lot numbers listed after the word, with a side's letter or a
        # slash between them: "serials R 2217A0934 / L 2217A0961", "Lot U4812AB / J0097-3"
        "serials_listed",
        ID,
        r"(?<=\b(?i:serials?|S/Ns|lots?)[ \t]*(?:\#|:|nos?\.?)?[ \t]*(?:(?:[RL][ \t]+)?[A-Z0-9-]+"
        r"[ \t]*(?:/|,|&|and)[ \t]*)?(?:[RL][ \t]+)?)"
        r"(?P<phi>[A-Z]{0,4}\d[A-Z0-9]{3,}(?:-\d{1,3})?)(?![\w/-])",
        0.6,
        starts=r"[A-Z0-9]",
    ),
    PatternSpec(
        # an extension written alone: "Counselor: Ines (ext 214)", "at ext. 226" (a knee's
        # extension is in degrees: "ext 120°", "ext 10 deg")
        "extension_alone",
        PHONE,
        r"(?<=\b(?i:ext|extension)\.?[ \t]{0,2}(?:\#[ \t]?)?)\d{3,5}(?![\d.,]|[ \t]*(?:°|deg\b|"
        r"degrees|%|mmhg|lag))",
        0.55,
    ),
    PatternSpec(
        # initials in a person's slot of a form: "Clinician: KT (ktoa01)", "Seen by: PQR"
        "initials_in_person_slot",
        PERSON,
        r"\b(?i:clinician|nurse|doctor|author|signed(?:[ \t]by)?|seen[ \t]by|reviewed[ \t]by|"
        r"checked[ \t]by|witness(?:ed[ \t]by)?|staff|practitioner|provider|"
        r"examiner|assessor|operator|scribe|recorder|keyworker|key[ \t]worker|surgeon|"
        r"physician|tech|technician|assistant|circ|counselor|counsellor)"
        r"[ \t]*:[ \t]*(?P<phi>[A-Z]{2,3})(?=[ \t]*(?:\(|\n|$|[ \t]{2}|[,;|]))"
        # "Dictated 03/10/2022 by RC;", "transcribed by KM."
        r"|\b(?i:dictated|transcribed|entered|documented|signed|reviewed)\b[^\n]{0,24}?\bby[ \t]+"
        # (not a role or a test: "signed by MD", "reviewed by RN", "documented by CT")
        r"(?!(?:RN|MD|DO|NP|PA|CT|MR|MRI|US|OT|PT|ED|ER|OR|IR|SW|RT|LPN|CNA|APP|PCP|EMS|GP)\b)"
        r"(?P<phi>[A-Z]{2,3})(?=[ \t]*(?:[,;.(]|\n|$))",
        0.6,
    ),
    PatternSpec(
        # the owner of an action in minutes: "Actions: QT to book the scan. HLW to send..."
        # (a team or role written the same way is no one: "GP to", "OT to", "SLT to")
        "initials_action_owner",
        PERSON,
        r"(?<![\w-])(?=[A-Z]{2,3}[ \t]+to[ \t])(?:^|(?<=[.;:][ \t]{1,2})|(?<=\n[ \t]*[-*•][ \t]))"
        r"(?!(?:GP|OT|PT|ED|AE|SW|DN|RN|MDT|SLT|SALT|HCA|CNS|ICU|ITU|TVN|IPC|NOK|PCP|ENT|EMS|"
        r"CMHT|OPD|SNF|PCN|HV|MW|CPN|AHP|SHO|FY|REG|CCU|HDU|AMU|MAU|LAB|US|UK|DR|MR|MS|NP|PA|"
        r"IT|PH|PM|AM|PLAN|ALL|TTO|TCI|CT|MRI|ECG|OP|BP|IV|VTE)\b)"
        r"(?P<phi>[A-Z]{2,3})[ \t]+to[ \t]+(?:book|send|call|review|chase|arrange|contact|"
        r"discuss|follow|refer|see|check|request|order|update|write|speak|inform|liaise|email|"
        r"phone|ring|complete|organise|organize|confirm|ask|escalate|feed[ \t]?back|action|"
        r"circulate|draft|present|meet|visit|repeat|re-?refer|audit|prescribe|list)\b",
        0.55,
        regex.M,
    ),
    PatternSpec(
        # initials signing a message on their own line after a dash or ">>": ">> KQ", "- T"
        "initials_signing_line",
        PERSON,
        r"(?m)^[ \t]*(?:>>|[-–—~]{1,2})[ \t]*(?P<phi>[A-Z]{1,3})[ \t]*$",
        0.55,
    ),
    PatternSpec(
        # a date said aloud in a transcript: "June ninth, nineteen eighty-two", "May the
        # third, twenty twelve", "October tenth, forty-one"
        "date_spoken",
        DATE,
        rf"\b{_MONTH_FULL}[ \t]+(?:the[ \t]+)?{_ORDINAL_WORD}\b"
        rf"(?:,?[ \t]+(?:(?:nineteen|twenty)[ \t-]+)?(?:{_TENS_WORD}|"
        r"oh[ \t-](?:one|two|three|four|five|six|seven|eight|nine)|ten|eleven|twelve|"
        r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|hundred|"
        r"thousand(?:[ \t]+and)?(?:[ \t-]\w+)?)\b)?",
        0.6,
        regex.I,
    ),
    PatternSpec(
        # a month named in Spanish, Portuguese, French, Italian or German after a
        # preposition of time ("en junio", "em março", "en juillet", "im März")
        "date_month_other_language",
        DATE,
        r"\b(?:en|em|de|in|im|au|el|desde|hasta|fin|finales|principios|depuis|ab|seit|"
        r"bis|da|dal|entro)[ \t]+(?:(?:el|le|del|de|mes[ \t]+de)[ \t]+)?"
        r"(?P<phi>(?i:enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|"
        r"octubre|noviembre|diciembre|janeiro|fevereiro|março|maio|junho|julho|setembro|"
        r"outubro|novembro|dezembro|janvier|février|fevrier|avril|juin|juillet|août|aout|"
        r"septembre|octobre|novembre|décembre|gennaio|febbraio|aprile|maggio|giugno|luglio|"
        r"settembre|ottobre|dicembre|januar|februar|märz|maerz|juni|juli|oktober|dezember)"
        r"(?:[ \t]+(?:de[ \t]+)?\d{2,4})?)\b",
        0.6,
    ),
    PatternSpec(
        # a subject's or patient's initials after their label: "Initials: T-B.K.", "Pt
        # initials: JQ"
        "initials_after_label",
        PERSON,
        r"\b(?i:initials|pt[ \t]+initials|patient[ \t]+initials|subject[ \t]+initials)"
        r"[ \t]*:[ \t]*(?P<phi>[A-Z](?:[-.]?[ \t]?[A-Z]){1,3}\.?)(?![\w])",
        0.6,
    ),
    PatternSpec(
        # a second name after "aka", "goes by", "also known as", without quotes
        "name_after_aka",
        PERSON,
        r"\b(?:aka|a\.k\.a\.?|also[ \t]+known[ \t]+as|goes[ \t]+by|prefers[ \t]+to[ \t]+be"
        r"[ \t]+called)[ \t]+(?P<phi>\p{Lu}[\p{Ll}'’-]+(?:[ \t]\p{Lu}[\p{Ll}'’-]+){0,2})",
        0.6,
    ),
    PatternSpec(
        # a name signing a line after a dash, then its role: "- Tamsin, ward 4 nurse"
        "name_dash_role",
        PERSON,
        r"(?:^|(?<=[\s.!]))[-–—~][ \t]?(?P<phi>\p{Lu}[\p{Ll}'’-]+(?:[ \t]\p{Lu}[\p{Ll}'’-]+)?),"
        r"[ \t](?:[\p{L}\d-]+[ \t]){0,3}(?i:nurse|physio|doctor|consultant|registrar|midwife|"
        r"therapist|sister|matron|chaplain|volunteer|\p{L}+(?:ist|ician|itian))\b",
        0.6,
        regex.M,
    ),
    PatternSpec(
        # a weekday, in any case or cut short, before a numeric date: "thurs 16/1/2086"
        "date_weekday_numeric",
        DATE,
        r"\b(?i:mon|tue|tues|wed|weds|thu|thur|thurs|fri|sat|sun)(?i:day)?\.?,?[ \t]+"
        r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b"
        # a weekday before a month/day makes it a date whatever follows ("Monday 8/19 on
        # home monitor"); not "sat"/"sun" in lower case (oxygen saturation: "sat 5/5")
        r"|\b(?:(?i:mon|tue|tues|wed|weds|thu|thur|thurs|fri)(?i:day)?|Sat|SAT|Sun|SUN|"
        r"(?i:saturday|sunday))\.?,?[ \t]+(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])"
        r"(?![\d/.-])",
        0.6,
    ),
    PatternSpec(
        # initials typed in lower case signing a line before a role: "k t, podiatrist",
        # "m.j. physio"
        "initials_lower_before_role",
        PERSON,
        r"(?m)^[ \t]*(?P<phi>[a-z]\.?[ \t]?[a-z]\.?(?:[ \t]?[a-z]\.?)?)(?:,[ \t]*|[ \t]+)"
        r"(?:[a-z]+(?:ist|ician|itian)|nurse|physio|doctor|midwife|rn|hca|slt|ot|pt|sw|"
        r"paramedic|therapist)\b",
        0.55,
    ),
    PatternSpec(
        # a day of the month alone after a follow-up word: "review 1 wk, 23rd", "rv on 9th"
        "date_ordinal_after_follow_up",
        DATE,
        r"\b(?i:review|rv|f/u|follow[- ]?up|appt|appointment|return|recall|next|clinic)\b"
        r"[^.\n]{0,20}?(?<![\w/])(?P<phi>(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th))\b"
        r"(?![ \t]*(?:percentile|centile|day|week|month|year|cycle|dose|line|degree|"
        r"generation|floor|visit|trimester|time|attempt|session|fraction|toe|finger|rib|"
        r"ICS|intercostal|MTP|MCP))",
        0.55,
    ),
    PatternSpec(
        # a ship by its prefix before its IMO or MMSI number, or after "aboard"/"vessel"
        "vessel_name",
        ID,
        r"\b(?P<phi>(?:MV|M/V|MS|M/S|MT|SS|RMS|HMS|FV|MY|SY)[ \t]+\p{Lu}\p{Ll}+"
        r"(?:[ \t]\p{Lu}\p{Ll}+){0,2})(?=[ \t]*\(?(?:IMO|MMSI)\b)"
        r"|\b(?:aboard|on[ \t]board|vessel|ship)[ \t:]+(?:the[ \t]+)?"
        r"(?P<phi>(?:MV|M/V|MS|M/S|MT|SS|RMS|FV)[ \t]+\p{Lu}\p{Ll}+(?:[ \t]\p{Lu}\p{Ll}+){0,2})",
        0.6,
    ),
    # ----- round 3 (blind_9's misses, ADR 0121): general shapes -------------------------
    PatternSpec(
        # a reference code of capitals and slash-separated parts, one of three digits or
        # more: "Our ref: QX/LM/2091/0044", "Incident no TRMT-044/12" (not "PHQ-9/GAD-7")
        "reference_code_slashed",
        ID,
        r"(?<![\w/-])(?=[A-Z]{2})(?=[A-Z0-9/-]*\d{3})(?=[A-Z0-9-]*/)"
        r"[A-Z]{2,6}(?:[-/][A-Z0-9]{1,8}){2,5}(?![\w/-])",
        0.6,
    ),
    PatternSpec(
        # a UK National Insurance number written in pairs: "NI no KT 12 34 56 B"
        "ni_number_spaced",
        SSN,
        r"\b(?-i:[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])[ \t]\d{2}[ \t]\d{2}[ \t]\d{2}[ \t]"
        r"(?-i:[A-D])\b",
        0.7,
    ),
    PatternSpec(
        # an ordinal day before a month in any case: "left on 19th april", "3rd of SEPT"
        "date_ordinal_month_any_case",
        DATE,
        r"\b(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)[ \t]+(?:of[ \t]+)?"
        r"(?i:january|february|march|april|may|june|july|august|september|october|november|"
        r"december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\b",
        0.6,
    ),
    PatternSpec(
        # an age over 89 in brackets after a date of birth or after a relation: "DOB
        # 02/03/1990 (97)", "(husband, 93)", and "lived to 102"
        "age_over_89_bracketed",
        AGE,
        r"\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}[ \t]*\((?P<phi>9\d|1[01]\d)\)"
        r"|\((?i:wife|husband|partner|son|daughter|mother|father|mum|dad|sister|brother|"
        r"aunt|uncle|friend|neighbour|neighbor|widow|widower|carer),[ \t]*(?P<phi>9\d|1[01]\d)"
        r"[ \t]*\)"
        r"|\b(?:[Ll]ived|[Ll]ive|[Ll]iving|[Ss]urvived)[ \t]+to[ \t]+(?:be[ \t]+)?"
        r"(?P<phi>9\d|1[01]\d)\b",
        0.6,
    ),
    PatternSpec(
        # a registration number after its register's acronym: "NZMC 40412", "APC 27-31190"
        "registration_after_register",
        ID,
        r"\b(?:MCNZ|NZMC|AHPRA|GMC|NMC|HCPC|IMC|MCI|HPCSA|APC|MCRN|PMDC|KMPDC|MDCN|SANC|"
        r"CPSO|NMBI|CORU|GPhC|PSI|SMC|MMC)[ \t]*(?:no\.?|number|#)?[ \t]*:?[ \t]*"
        r"(?P<phi>\d{2}-\d{4,7}|\d{4,8})(?![\d.,-])",
        0.6,
    ),
    PatternSpec(
        # a log-in after a sign-off's name and a slash: "P. Okafor / pokafor.icu"
        "login_after_name_slash",
        USERNAME,
        # (the slash first, the name looked back at: cheaper than trying every capital)
        r"[ \t]/[ \t](?<=(?:^|[ \t])\p{Lu}[\p{L}.'’-]*(?:[ \t]\p{Lu}[\p{L}'’-]+){0,3}"
        r"[ \t]/[ \t])(?P<phi>[a-z][a-z0-9]*[._][a-z0-9][a-z0-9._]*)(?![\w@])",
        0.6,
        regex.M,
    ),
    PatternSpec(
        # a police officer's collar or shoulder number: "(collar 2218)", "shoulder no 507"
        "collar_number",
        ID,
        r"\b(?i:collar|shoulder|epaulette)(?:[ \t]+(?i:no\.?|number|#))?[:#\s]{1,4}"
        r"(?P<phi>\d{3,6})(?![\d-])",
        0.6,
    ),
    PatternSpec(
        # an Irish Eircode: "Co. Wexford, Y35 H2K7"
        "eircode",
        ZIP,
        r"\b(?-i:[AC-FHKPRV-Y]\d{2}|D6W)[ \t](?=[0-9A-Z]{0,3}[A-Z])(?=[0-9A-Z]{0,3}\d)"
        r"(?-i:[0-9AC-FHKNPRTV-Y]{4})\b",
        0.6,
    ),
    PatternSpec(
        # a town and UK postcode typed in lower case after an address's comma:
        # ", derry bt48 7pe"
        "town_postcode_lower",
        ZIP,
        # (a postcode's area never starts with q, v or x; it ends the line or a clause)
        r",[ \t]*(?P<phi>[a-z]{3,}(?:[ \t][a-z]{3,})?[ \t]+[a-pr-uwyz][a-hk-y]?\d[a-z\d]?"
        r"[ \t]\d[abd-hjlnp-uw-z]{2})(?=[ \t]*(?:$|[,.;)]))",
        0.55,
        regex.M,
    ),
    PatternSpec(
        # a flat, room or floor before the rest of an address, with the street it belongs
        # to: "Unit 4, Harbour Walk", "Second Floor, Elm Court, 9 Percy Place"
        "unit_then_street",
        LOCATION,
        r"\b(?:(?:Ground|First|Second|Third|Fourth|Fifth|Upper|Lower|Top|Basement|"
        r"\d{1,2}(?:st|nd|rd|th))[ \t]+(?:Floor|Flr)"
        r"|(?:Flat|Apt|Apartment|Unit|Suite|Ste|Room|Rm|Purok|Block|Blk|Level|Lvl)\.?[ \t]?#?"
        r"[A-Z]?\d{1,4}[A-Z]?)"
        r"(?:,[ \t]*\p{Lu}[\p{L}'-]+(?:[ \t]\p{Lu}[\p{L}'-]+){0,2})?"
        r",[ \t]*(?:\d{1,5}(?:-?[A-Z])?[ \t]+)?(?:\p{Lu}[\p{L}'-]+[ \t]+){1,3}"
        r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|"
        r"Pl|Terrace|Crescent|Close|Walk|Grove|Gardens|Mews|Row|Parade|Square|Sq|Hill|Rise|"
        r"Green|Quay|Wharf|Mount|Vale|View)\b\.?",
        0.6,
    ),
    PatternSpec(
        # a number-plate after the vehicle it belongs to, in any case: "his ute kpl 418",
        # "car reg WX 7102"
        "plate_after_vehicle",
        ID,
        r"\b(?i:car|van|ute|truck|lorry|vehicle|motorbike|motorcycle|taxi|cab)"
        r"(?:[ \t]+(?i:reg(?:istration)?|plate|is))?[:]?[ \t]+"
        r"(?P<phi>(?i:[a-z]{2,3}[ \t]?\d{3,4}|\d{3,4}[ \t]?[a-z]{2,3}))(?![\w-])",
        0.55,
    ),
    PatternSpec(
        # a phone number with its trunk 0 and a short area code in groups: "01 555 0188",
        # "021 555 0107"
        "phone_trunk_grouped",
        PHONE,
        r"(?<![\d+.-])0\d{1,2}[ \t]\d{3}[ \t]\d{4}(?![\d.])",
        0.55,
    ),
    PatternSpec(
        # a care site by its acronym before one of its services, or in brackets after the
        # emergency department: "referred to QMH neurosurgery", "ED (RKH)"
        "site_acronym_before_service",
        HOSPITAL,
        # (not a team's or a unit's own acronym: "MDT oncology", "NICU maternity")
        # (the capitals matched first, the list looked back at: cheaper at every word)
        r"\b(?P<phi>[A-Z]{3,6})(?<!\b(?:MDT|ICU|ITU|HDU|NICU|PICU|SCBU|CCU|OPD|ENT|MSK|MRI|"
        r"PET|ECG|EEG|TIA|ACS|NHS|PCI|CABG|ICD|SVT|CHD|CKD|AKI|IBD|COPD|TBI|MVA|RTA|SAH|ICH))"
        r"[ \t]+(?i:cardiology|neurology|neurosurgery|oncology|"
        r"haematology|hematology|maternity|paediatrics|pediatrics|critical[ \t]care|"
        r"HDU[ \t]crew|switchboard|trauma[ \t]team|burns[ \t]unit)\b"
        r"|\b(?:ED|A&E)[ \t]?\((?P<phi>[A-Z]{2,5})\)"
        # a medical center's or hospital's initials (their last letters say so) before one
        # of its units, which may be an acronym too: "TFRMC ICU", "SVMC L&D", "KGMC - ED"
        r"|\b(?!(?:BPH|LVH|RVH|SAH|ICH|IVH|NPH|PPH|TSH|FSH|ACTH|ADH|PTH|DKH|HCH|CMC|IMC|SMC)\b)"
        r"(?P<phi>[A-Z]{2,5}(?:MC|MH|GH|CH|HC|HS|RH|UH))\b"
        r"(?=[ \t]{1,3}(?:-[ \t])?(?:ICU|MICU|SICU|CCU|NICU|PICU|ED|ER|OR|PACU|L&D|Emergency|"
        r"Lab|Labs|Laboratory|Pharmacy|Radiology|Imaging|Dept|Department|Cath|Clinic|"
        r"Cancer|Dialysis|Rehab|Operator|Main|Campus|Ward|[0-9]+[ \t]?(?:EAST|WEST|NORTH|SOUTH)|"
        r"Location)\b)",
        0.55,
    ),
    PatternSpec(
        # a person's initials after the word naming the person: "Client: K.M. (first name
        # Kiara)", "Veteran G.R.", "Index case A.B.", "In the Matter of A.M.W., a minor"
        "initials_after_person_word",
        PERSON,
        r"(?<=\b(?:Client|Patient|Pt|Veteran|Resident|Student|Child|Infant|Member|case|Matter"
        rf"[ \t]+of|minor)[ \t]*:?[ \t]{{1,2}}){_NOT_INITIALS}(?:[A-Z]\.){{2,3}}"
        r"(?=[ \t]*[,;:)(\n]|[ \t]|$)",
        0.55,
    ),
    PatternSpec(
        # a list's or log's patient in capitals with the record number after it: "ALVARADO,
        # REINA (3401177)", "BROUSSARD, T. (3412008)", "ABERNATHY, JUNE (3174420)"
        "name_capitals_before_record_number",
        PERSON,
        r"(?<![\w'-])[A-Z][A-Z'-]+(?:[ \t][A-Z][A-Z'-]+)?,[ \t]?[A-Z][A-Z'-]*\.?(?:[ \t][A-Z]\.?)?"
        r"(?=[ \t]{1,3}\(\d{6,10}\))",
        0.6,
    ),
    PatternSpec(
        # a research subject by study number: "Subject 22-1093", "Subj 01-006", "Subject
        # 103-007" (each mention; the number names the person as an MRN does)
        "research_subject_id",
        ID,
        r"(?<=\b(?:Subject|Subj\.?|Participant|Ppt)[ \t]*(?:\#|No\.?|ID|:)?[ \t]*"
        # "Subjects reviewed: 22-1093, ..." (the others of the list follow the first)
        r"|\bSubjects[ \t]+(?:reviewed|enrolled|screened|randomi[sz]ed|seen)[ \t]*:[ \t]*)"
        r"\d{2,4}-\d{3,4}(?![\w-])",
        0.6,
    ),
    PatternSpec(
        # a person's initials before an age and sex or an MRN: "(J.Z., 11 y/o M)", "E.T.,
        # 49F, MRN 8830126", "R.C., 97F", "(S.A., MRN 92-441-078)"
        "initials_before_age_sex",
        PERSON,
        rf"(?<![\w.]){_NOT_INITIALS}(?:[A-Z]\.){{2,3}}"
        r"(?=,?[ \t]+(?:\d{1,3}[ \t]?(?:y/o|yo|y\b|[MF]\b|-?mo\b)|MRN\b))",
        0.55,
    ),
    PatternSpec(
        "surname_comma_given",
        PERSON,
        # not inside a list of credentials ("Jane Roe, RN, CCM, Utilization Management")
        rf"(?<!,[ \t]{{0,2}})\b[A-Z][A-Z'\-]{{2,}}\d*,\s+"
        rf"{_PARTICLES}\p{{Lu}}\p{{Ll}}[\p{{L}}'\-]*\d*\b",
        0.6,
    ),
    # ----- shapes seen in held-out notes (blind_124-127): roads, research and police ids -----
    PatternSpec(
        # a highway with its direction or mile marker, as EMS and state patrol write a scene:
        # "US-83 southbound MM 112", "I-80 WB MM 219", "MT-200 at MM 213"; a state route after
        # "on", "via" or a slash ("on NE-71", "via US-83/NE-2"), not a tumour marker ("CA-125")
        "highway_mile_marker",
        LOCATION,
        r"\b(?P<phi>(?:I|US|SR|SH|[A-Z]{2})-\d{1,3}[ \t]+(?:(?:[NSEW]B|(?i:north|south|east|"
        r"west)(?i:bound))[ \t]+)?(?:at[ \t]+)?(?:MM|(?i:mile[ \t]+marker))[ \t]?\d{1,3})\b"
        r"|\b(?P<phi>(?:I|US)-\d{1,3}[ \t]+(?:[NSEW]B|(?i:north|south|east|west)(?i:bound)))\b"
        r"|(?:\b(?:on|via|onto|off)[ \t]|\d/)(?P<phi>(?!CA-|IL-)[A-Z]{2}-\d{1,3})\b(?![-/.]\d)",
        0.55,
    ),
    PatternSpec(
        # county and tribal roads by letter or number: "Rd 70 & Rd Z", "County Rd N 1450",
        # "Rd E4", "BIA 14" (a Bureau of Indian Affairs route), "1900 Rd"
        "rural_road_grid",
        LOCATION,
        r"\b(?:Rd|Road)[ \t]\w{1,4}[ \t]?(?:&|and|/)[ \t]?(?:Rd|Road)[ \t]\w{1,4}\b"
        r"|\bCounty[ \t]+(?:Rd|Road)[ \t]+[NSEW][ \t]+\d{1,5}\b"
        r"|\b(?:Rd|Road)[ \t][A-Z]\d{1,3}\b"
        r"|\bBIA[ \t]+(?:(?:Rte?|Rt|Route|Hwy)\.?[ \t]*)?\d{1,3}\b"
        r"|\b\d{3,5}[ \t]Rd\b(?![ \t]*\d)",
        0.5,
    ),
    PatternSpec(
        # a city's house number and direction before a street written without its kind, as
        # Chicago and Milwaukee addresses are: "5021 N Kenmore #3", "1843 S Loomis"
        "street_number_direction_name",
        LOCATION,
        r"\b\d{2,5}[ \t][NSEW][ \t]\p{Lu}\p{Ll}{2,}\b(?![ \t]*\d)"
        r"(?:[ \t]*(?:#|Apt\.?|Unit)[ \t]?\w{1,4}\b)?",
        0.5,
    ),
    PatternSpec(
        # a district, tehsil or police station named before or after its word (South Asian
        # letters, medico-legal intimations): "Distt. Barmer", "Police Station Latifabad"
        "district_or_police_station",
        LOCATION,
        r"\b(?:Distt?\.?|District|Tehsil|Taluka|Police[ \t]+Station|P\.S\.)[ \t]+"
        r"(?!(?:Hospital|Nurse|Nursing|Health|General|Council|Court|Office|Headquarters|HQ|"
        r"Magistrate|Collector|Level|Medical|Officer|Judge|Jail|Board|Team|Manager|Attorneys?|"
        r"Region|Attached|Wide|Court|Clerk)\b)"
        r"(?P<phi>\p{Lu}\p{Ll}{3,}(?:[ \t]\p{Lu}\p{Ll}{3,})?)",
        0.5,
    ),
    PatternSpec(
        # a number plate in the Indian style ("BR01PH 5501", "MH 12 AB 1234"), never a vital
        # sign's letters
        "vehicle_plate_indian",
        ID,
        r"\b(?!(?:BP|HR|RR|PR|SP|GC|OD|BD)\b)[A-Z]{2}[ -]?\d{1,2}[ -]?[A-Z]{1,3}[ -]?\d{4}\b",
        0.55,
    ),
    PatternSpec(
        # an id after a police, research or registry label: "badge HC-27", "IRB 2070-0344",
        # "CCN 14-5A871", "Incident 74-0093-E", "GD no 1147/77", "belt no. 2291", "Lab no
        # H/81/2204", "Sl. No. R/0412/72", "card 4410-9921"
        "id_after_police_or_study_label",
        ID,
        r"\b(?:(?i:badge|IRB|CCN|(?<!\bof[ \t])incident)[ \t]*(?:(?i:no|number|num)\.?|#)?"
        r"|(?i:GD|belt|lab|sl|serial|FIR|MLC|diary|card)\.?[ \t]*(?:(?i:no|number|num)\.?|#))"
        r"[ \t]*:?[ \t]*(?P<phi>(?=[A-Za-z0-9/-]*\d)[A-Z0-9][A-Za-z0-9/-]{1,20}[A-Z0-9])"
        r"(?![\w/-]|[.,]\d)",
        0.55,
    ),
    PatternSpec(
        # a slash-joined police or case number after "No.": "(No. 1443/LDH)"
        "slash_number_after_no",
        ID,
        r"\b(?i:no)\.?[ \t]*:?[ \t]*(?P<phi>\d{2,6}/[A-Z]{2,5}|[A-Z]{1,3}/\d{2,6}/\d{2,4})\b",
        0.55,
    ),
    PatternSpec(
        # a trial site by number (it names the hospital): "Site 2207", "(Site 0307)", "site 118"
        "trial_site_number",
        ID,
        r"\b(?<!\b(?i:on|at)[ \t])(?i:site)[ \t]*(?:#|(?i:no)\.?|(?i:number))?[ \t]*:?[ \t]*"
        r"(?P<phi>\d{3,5})"
        r"(?![\d/:-]|[.,]\d|[ \t]*(?i:mm|cm|mg|ml|units?|%|x\b))",
        0.5,
    ),
    PatternSpec(
        # an investigational kit by number (DEVICE): "Kit numbers returned: K-440817", "kit
        # K-440931"
        "study_kit_number",
        ID,
        r"\b(?i:kits?)(?:[ \t]+(?i:numbers?|nos?\.?|#|ids?))?(?:[ \t]+(?i:returned|dispensed|"
        r"assigned|used|issued))?[ \t]*[:#]?[ \t]*(?P<phi>[A-Z]{1,3}-?\d{4,8}|\d{5,8})\b",
        0.55,
    ),
    # ----- shapes seen in held-out notes (blind_128-131): chat senders, extensions, dates -----
    PatternSpec(
        # an internal extension or pager after "from", "to" or a pager's word: "from 5-4410",
        # "to 6-1199 (nsurg)", "pager group (88-4411)"
        "internal_extension",
        PHONE,
        r"\b(?i:from|to|pgr|pager|bleep|paged?)[ \t]{1,2}(?:\p{Lu}\p{Ll}+[ \t])?"
        r"(?P<phi>(?!1-8\d\d\b)\d{1,2}-\d{3,4})\b(?![-/.]\d)"
        r"|\b(?i:pager[ \t]+group)[^\n()]{0,30}\((?P<phi>\d{1,2}-\d{3,4})\)",
        0.5,
    ),
    PatternSpec(
        # a day of the month by its ordinal after a preposition, closing the phrase: "around
        # the 30th.", "surgery on the 14th and", "ablation on the twelfth and"; a day range
        # before its month ("10-15/11/2094"); part of a month ("late May"); Groundhog Day
        "date_day_ordinal_or_range",
        DATE,
        r"\b(?i:on|around|by|until|till|til|before|after|since|from|for|about)[ \t]+the[ \t]+"
        rf"(?P<phi>\d{{1,2}}(?:st|nd|rd|th)|{_ORDINAL_WORD})"
        r"(?=[ \t]*(?:[.,;:!?)]|$|(?:and|at|or|if|when|then|of)\b))"
        r"|(?<![\d/.-])(?P<phi>\d{1,2}[-–]\d{1,2}/\d{1,2}/(?:\d{4}|\d{2}))(?![\d/])"
        r"|\b(?P<phi>(?i:early|mid|late)[ \t-](?:January|February|March|April|May|June|July|"
        r"August|September|October|November|December))\b"
        r"|\b(?P<phi>Groundhog[ \t]+Day)\b",
        0.55,
    ),
    PatternSpec(
        # a web address without its scheme: "teen.quitline.example.org", "myclinic.com/portal"
        "url_bare_domain",
        URL,
        r"(?<![@\w.\-/])(?:[a-z0-9][a-z0-9-]*\.){1,4}(?:com|org|net|gov|edu|info|health)"
        r"(?:\.[a-z]{2})?(?:/[\w./-]*)?(?![\w@-])",
        0.5,
    ),
    PatternSpec(
        # an Australian Medicare number with its reference number: "5129 40611 3 / 2"
        "medicare_au",
        ID,
        r"\b\d{4}[ \t]\d{5}[ \t]\d(?:[ \t]?/[ \t]?\d)?(?![\d/])",
        0.55,
    ),
    PatternSpec(
        # a courier's airbill or waybill: "airbill 7741 2209 5583"
        "courier_bill_number",
        ID,
        r"\b(?i:airbill|waybill|tracking|consignment)[ \t]*(?:(?i:no|number|num)\.?|#)?[ \t]*:?"
        r"[ \t]*(?P<phi>\d{4}(?:[ \t]?\d{4}){1,3})\b",
        0.55,
    ),
    PatternSpec(
        # a preferred name given in quotes or after its label: 'pref name "Tam"', "goes by Bo"
        "preferred_name",
        PERSON,
        r"\b(?i:pref(?:erred)?\.?[ \t]*name|goes[ \t]+by|known[ \t]+as|a\.?k\.?a\.?)[ \t]*:?[ \t]*"
        r"[\"“']?(?P<phi>\p{Lu}\p{Ll}+)",
        0.5,
    ),
    PatternSpec(
        # minors in a court caption by their initials: "In re: M.T. and J.T., minors"
        "initials_in_court_caption",
        PERSON,
        r"\b(?i:in[ \t]+re):?[ \t]+(?P<phi>(?:[A-Z]\.){2,3})"
        r"|(?<=(?:[A-Z]\.){2,3}[ \t]+(?:and|&)[ \t]+)(?P<phi>(?:[A-Z]\.){2,3})",
        0.5,
    ),
    PatternSpec(
        # a laboratory named by two words: "Sound Meadows Lab" (not a department's: "Cath Lab")
        "lab_named",
        HOSPITAL,
        r"\b(?!(?:The|Cath|Sleep|Main|Core|Vascular|Skills|Sim|Simulation|Research|Blood|Gait|"
        r"Motion|Voice|Swallow|Hand|Clinical|Hospital|Outpatient|Inpatient|Micro|Chem|Chemistry|"
        r"Hematology|Haematology|Pathology|Cardiac|Cardiology|Stat|Reference|Send|Special|"
        r"Molecular|Genetics|Cytology|Histology|Point|Immunology|Transfusion|Echo|Neuro|Pulmonary|"
        r"Function|Noninvasive|Non|Satellite|Mobile|Anatomic|Surgical)\b)"
        r"\p{Lu}\p{Ll}+[ \t]+(?!(?:Cath|Sleep|Core|Vascular|Skills|Sim|Research|Blood|Gait|Voice|"
        r"Clinical|Micro|Chem|Chemistry|Pathology|Cardiac|Reference|Molecular|Genetics|Function|"
        r"Echo|Transfusion|Histology|Cytology|Immunology)\b)\p{Lu}\p{Ll}+[ \t]+Lab\b",
        0.5,
    ),
    PatternSpec(
        # staff by their initials after a role label, one or a list: "Sonographers: AGB, KLM,
        # RS", "Reviewing CCT: JH, RT, PQ", "Hooked up by: KD", "Scoring: ME", "reading MD: HBL"
        "initials_after_staff_label",
        PERSON,
        r"\b(?i:sonographers?|techs?|technologists?|technicians?|readers?|scoring|scored[ \t]+by|"
        r"reviewing(?:[ \t]+[A-Z]{2,4})?|hooked[ \t]+up[ \t]+by|scanned[ \t]+by|reading[ \t]+MD|"
        r"recorder|2nd[ \t]+tech(?:[ \t]+for[ \t]+\w+)?|tech[ \t]+on)[ \t]*:[ \t]*"
        r"(?P<phi>[A-Z]{2,3})\b(?![\w(.'-])"
        r"|(?<=\b(?i:sonographers?|techs?|technologists?|readers?|reviewing(?:[ \t]+[A-Z]{2,4})?)"
        r"[ \t]*:[ \t]*(?:[A-Z]{2,3},[ \t]*){1,5})(?P<phi>[A-Z]{2,3})\b(?![\w(.'-])",
        0.5,
    ),
    # ----- shapes seen in held-out notes (blind_136-139) --------------------------------------
    PatternSpec(
        # a dictation stamp's dictator and typist: "D: SK  T: ljb", "D: AF/T: mcl"; its dates
        # run together: "D/T 9/28/9/28"
        "dictation_stamp_initials",
        USERNAME,
        r"\bD:[ \t]*(?P<phi>[A-Z]{2,3})\b(?=[ \t]*/?[ \t]*T:)"
        r"|(?<=\bD:[ \t]*[A-Z]{2,3}[ \t]*/?[ \t]*)T:[ \t]*(?P<phi>[a-z]{2,4})\b",
        0.5,
    ),
    PatternSpec(
        "dictation_stamp_dates",
        DATE,
        r"\bD/T[ \t]*(?P<phi>\d{1,2}/\d{1,2}/\d{1,2}/\d{1,2})(?![\d/])",
        0.5,
    ),
    PatternSpec(
        # a subway station by its two names: "149 St-Grand Concourse", "Times Sq-42 St"; a
        # street by its direction and kind without a number: "W Jackson Blvd", "N Milwaukee Ave"
        "station_or_directional_street",
        LOCATION,
        r"\b(?:\d{1,3}[ \t](?:St|Av|Ave)|\p{Lu}\p{Ll}+[ \t](?:Sq|St|Av|Ave))-"
        r"(?:\d{1,3}[ \t](?:St|Av|Ave)|\p{Lu}\p{Ll}+(?:[ \t]\p{Lu}\p{Ll}+)?)"
        r"|\b[NSEW][ \t]\p{Lu}\p{Ll}+[ \t](?:Ave|Av|Blvd|St|Rd|Dr|Pkwy|Hwy)\b",
        0.5,
    ),
    PatternSpec(
        # an extension alone after its word: "at extension 227"; an address line that is a
        # box or a named close: "Box 112", "3 The Paddocks"
        "extension_word_or_box_line",
        PHONE,
        r"\b(?i:extension)[ \t]+\d{2,5}\b",
        0.5,
    ),
    PatternSpec(
        "box_or_named_close_line",
        LOCATION,
        r"(?m)^[ \t]*(?P<phi>(?:P\.?[ \t]?O\.?[ \t]*)?Box[ \t]+\d{1,6}"
        r"|\d{1,4}[ \t]+The[ \t]+\p{Lu}\p{Ll}+)"
        r"[ \t]*$",
        0.5,
    ),
    PatternSpec(
        # a month/day after a booking word: "scheduled 4/10 in", "booked 3/2"; New South Wales
        # and Queensland by their letters
        "date_after_booking_or_au_state",
        DATE,
        r"\b(?i:scheduled|sched|booked|appt|appointment)[ \t]+"
        r"(?P<phi>(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12]\d|3[01]))(?![\d/]|\.\d)",
        0.5,
    ),
    PatternSpec(
        "australian_state_letters",
        LOCATION,
        r"\b(?:NSW|QLD|Qld)\b",
        0.5,
    ),
    PatternSpec(
        # an air-medical service by its one-word brand: "KidsFlight", "WyoFlight"
        "air_medical_brand",
        HOSPITAL,
        r"\b\p{Lu}\p{Ll}+(?:\p{Lu}\p{Ll}+)?Flight\b",
        0.5,
    ),
    PatternSpec(
        # a care provider's initials in a timed log: "04/02/72 0905 [KLM] premeds ..."
        "initials_in_timed_log",
        PERSON,
        r"\b\d{4}[ \t]{1,2}\[(?P<phi>[A-Z]{2,4})\]",
        0.5,
    ),
    PatternSpec(
        # a season with a short year ("spring '73"), a day of the month by its ordinal alone in
        # brackets or closing a question ("tomorrow (22nd)", "come the 22nd??"), a Nepali
        # (Bikram Sambat) month with its day ("LMP: 12 Baisakh")
        "date_season_ordinal_nepali",
        DATE,
        r"\b(?P<phi>(?i:spring|summer|fall|autumn|winter)[ \t]+(?:of[ \t]+)?['’]\d{2})\b"
        r"|\b(?i:tomorrow|today|tonight|yesterday|(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|"
        r"sat(?:ur)?|sun)(?:day)?)[ \t]*\((?P<phi>\d{1,2}(?:st|nd|rd|th))\)"
        r"|\bthe[ \t](?P<phi>\d{1,2}(?:st|nd|rd|th))(?=[ \t]*[?!]|[ \t]+(?:at|@)[ \t]+\d)"
        r"|\b(?P<phi>\d{1,2}[ \t]+(?:Baisakh|Baishakh|Jestha|Jeth|Asar|Ashadh|Shrawan|Saun|"
        r"Bhadra|Bhadau|Asoj|Ashwin|Kartik|Mangsir|Poush|Push|Magh|Falgun|Fagun|Chaitra|Chait))\b",
        0.55,
    ),
    # ----- shapes seen in held-out notes (blind_140-143) --------------------------------------
    PatternSpec(
        # the initials closing a dated row of a clinic log or a count sheet, after a gap or a
        # column bar: "7/7   INR 2.0 same, rtc 2 wk   ap", "10/02/87 | ... | 25  | PQ",
        # "03.03.91   1.4   5   06.03     SR" (not a unit, a dose word or a clinical acronym)
        "initials_closing_dated_row",
        PERSON,
        r"(?m)(?<![\w/.])(?=[A-Za-z]{2,3}(?:/[A-Z]{2,3})?[ \t]*$)"
        r"(?<=^[ \t]*\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?[ \t][^\n]*(?:[ \t]{2}|\|[ \t]?))"
        rf"(?:(?!{_LOG_LINE_WORDS}\b|(?:dad|mom|sis|bro|son)\b)[a-z]{{2,3}}"
        rf"|(?!{_CLOSING_CAPITALS}\b|{_ROW_END_CAPITALS}\b)[A-Z]{{2,3}})\b",
        0.5,
    ),
    PatternSpec(
        # a log-in in a bracketed entry stamp after its date and time: "[05/06/2090 0622
        # mpatelRPH] Tac trough..."
        "username_in_entry_stamp",
        USERNAME,
        r"(?<=\[[ \t]?\d{1,2}/\d{1,2}/\d{2,4}[ \t]+\d{1,2}:?\d{2}[ \t]+)"
        r"(?=[A-Za-z])[A-Za-z][A-Za-z0-9._-]{2,24}(?=[ \t]?\])",
        0.55,
    ),
    PatternSpec(
        # a calendar quarter with its year: "Period Q3 2091", "Q4/2088", "1Q 2090"
        "date_quarter_year",
        DATE,
        r"\b(?:Q[1-4]|[1-4]Q)(?:[ \t]+|[/-])(?:FY[ \t]?)?(?:19|20)\d\d\b",
        0.5,
    ),
)


@lru_cache(maxsize=1)
def compiled_patterns() -> tuple[tuple[PatternSpec, Any], ...]:
    """Each spec with its compiled ``regex`` pattern (compiled once per process)."""
    return tuple(
        (
            spec,
            regex.compile(
                f"(?={spec.starts})(?:{spec.pattern})" if spec.starts else spec.pattern,
                spec.flags | regex.V0,
            ),
        )
        for spec in PATTERNS
    )


def presidio_pattern_recognizers() -> list[PatternRecognizer]:
    """The same patterns as presidio ``PatternRecognizer`` objects (one per entity)."""
    by_entity: dict[str, list[Pattern]] = {}
    for spec in PATTERNS:
        flags = "(?i)" if spec.flags & regex.I else ""
        by_entity.setdefault(spec.entity, []).append(
            Pattern(spec.name, flags + spec.pattern, spec.score)
        )
    return [
        PatternRecognizer(
            supported_entity=entity,
            patterns=patterns,
            name=f"clinflow_{entity.lower()}",
            global_regex_flags=regex.M,
        )
        for entity, patterns in by_entity.items()
    ]


class KnownIdentifierRecognizer(EntityRecognizer):
    """Finds the patient's own identifiers (from the structured record) in free text."""

    def __init__(self, known: KnownIdentifiers) -> None:
        self.known = known
        super().__init__(
            supported_entities=[PERSON, MRN, SSN, PHONE, EMAIL, LOCATION, ID, HOSPITAL, DATE],
            name="clinflow_known_identifier",
            supported_language="en",
        )

    def load(self) -> None:
        """Nothing to load: patterns come from the record."""

    def analyze(
        self,
        text: str,
        entities: list[str],
        nlp_artifacts: Any = None,
    ) -> list[RecognizerResult]:
        results = []
        for start, end, entity in self.known.find(text):
            if not entities or entity in entities:
                results.append(RecognizerResult(entity, start, end, 1.0))
        return results


# presidio's PhoneRecognizer regions ("FE" is not a region phonenumbers knows)
PHONE_REGIONS = ("US", "GB", "DE", "IL", "IN", "CA", "BR")


def library_phone_numbers(
    text: str, covered: list[tuple[int, int]] | None = None
) -> list[tuple[int, int]]:
    """Phone numbers found by ``phonenumbers`` (the library behind presidio's PhoneRecognizer)
    in presidio's regions. Only candidates (7+ digits joined by phone punctuation, not already
    inside ``covered`` spans) are handed to the matcher, which keeps the cost a fraction of
    presidio's."""
    import phonenumbers
    from phonenumbers.re_util import enable_pattern_cache

    # the library's metadata patterns kept compiled (its own switch): left to the ``re``
    # module's 512-entry cache, which the rest of the process shares, they were compiled
    # again note after note
    enable_pattern_cache()
    found: set[tuple[int, int]] = set()
    for candidate in _PHONE_CANDIDATE.finditer(text):
        start, end = candidate.span()
        if sum(c.isdigit() for c in candidate.group()) < 7:
            continue
        if covered and any(s <= start and end <= e for s, e in covered):
            continue
        lo = max(0, start - 4)
        segment = text[lo : min(len(text), end + 12)]
        for region in PHONE_REGIONS:
            for match in phonenumbers.PhoneNumberMatcher(segment, region, leniency=1):
                found.add((lo + match.start, lo + match.end))
    return sorted(found)


_PHONE_CANDIDATE = regex.compile(
    r"(?<![\w/.])(?:\+|00)?\(?\d[\d \t().-]{5,}\d(?![\w/]|\.\d)", regex.V0
)


# ----- scanned and faxed text (OCR) -------------------------------------------------------
_OCR_TOKEN = regex.compile(r"[A-Za-z0-9]+(?:[/.:-][A-Za-z0-9]+)*")
_ICD_CODE = regex.compile(r"[A-Z]\d{2}(?:\.\d{1,4})?")
_OCR_AS_DIGIT = {"O": "0", "o": "0", "l": "1", "I": "1"}
# (a vowel after it: "8irth", not "8hrly")
_EIGHT_AS_B = regex.compile(r"[A-Za-z]+8[A-Za-z]+|8(?=[a-z]*[aeiou])[a-z]{3,}")
# (a doubled look-alike too: "Wi11iam", "Santl11an")
_ONE_INSIDE_WORD = regex.compile(r"(?i)(?!.*a1c)(?=(?:.*[a-z]){3})(?:[a-z]+[01]{1,2})+[a-z]+")


def _ocr_token(token: str) -> str:
    """One word with OCR look-alikes put back: "555-O133" parts -> "0133", "R0SALES" ->
    "ROSALES", "PATlENT" -> "PATIENT". Unchanged unless the word is clearly a number or
    clearly a word written with a look-alike."""
    if _ICD_CODE.fullmatch(token):
        return token  # "I10", "O24.4": ICD-10 codes, not a misread number
    digits = sum(c.isdigit() for c in token)
    chars = list(token)
    if digits and any(c in _OCR_AS_DIGIT for c in token):
        # a letter next to a digit (or next to a letter just read as one) is a digit
        changed = True
        while changed:
            changed = False
            for i, c in enumerate(chars):
                if c in _OCR_AS_DIGIT and (
                    (i > 0 and chars[i - 1].isdigit())
                    or (i + 1 < len(chars) and chars[i + 1].isdigit())
                ):
                    chars[i] = _OCR_AS_DIGIT[c]
                    changed = True
        if sum(c.isdigit() for c in chars) >= 3:
            if digits >= 2 and all(c.isdigit() or c in _OCR_AS_DIGIT or c in "/.:-" for c in chars):
                # a date or number misread throughout: "lO/O8/2O34" (each part a number)
                chars = [_OCR_AS_DIGIT.get(c, c) for c in chars]
            return "".join(chars)
        chars = list(token)
    letters = sum(c.isalpha() for c in token)
    if (
        digits
        and set(c for c in token if c.isdigit()) <= {"0", "1", "8"}
        and letters >= 2
        and (digits < 2 or letters >= 2 * digits)
        and ("1" not in token or _ONE_INSIDE_WORD.fullmatch(token))
    ):
        # "N0ne", "Phleb0t0mist", "0RDERlNG" (then its l read as I below); a 1 between
        # letters too: "Merid1an", "V1EW"
        upper_word = token.isupper() or token[1:].replace("l", "").isupper()
        token = token.replace("0", "O" if upper_word else "o")
        token = token.replace("1", "I" if upper_word else "l")
        # an "8" among letters is a misread "B": "Eula8elle", "Date of 8irth" (not "8am")
        if _EIGHT_AS_B.fullmatch(token):
            token = token.replace("8", "B" if upper_word or token[0] == "8" else "b")
        letters += digits
    if "l" in token and letters >= 3:
        upper = sum(c.isupper() for c in token)
        if upper >= 2 and upper + token.count("l") == letters:
            return token.replace("l", "I")
    return token


def ocr_normalized(text: str) -> str:
    """``text`` with OCR look-alikes (O/0, l/1/I, 8/B) read back, same length, so spans found in
    it are spans of ``text``; equal to ``text`` for ordinary typed notes."""
    if not any(c in text for c in "0OolI18"):
        return text
    # only words that mix letters and digits, or hold an "l" among capitals, can change
    read: str = _OCR_CANDIDATE.sub(lambda m: _ocr_token(m.group()), text)
    return read


_OCR_CANDIDATE = regex.compile(
    r"(?<![A-Za-z0-9])(?=[A-Za-z0-9/.:-]*?(?:[A-Za-z][A-Za-z0-9/.:-]*?\d|\d[A-Za-z0-9/.:-]*?"
    r"[A-Za-z]|[A-Z][A-Za-z0-9/.:-]*?l|l[A-Za-z0-9/.:-]*?[A-Z]))"
    r"[A-Za-z0-9]+(?:[/.:-][A-Za-z0-9]+)*"
)


# ----- the town before a UK postcode or a Canadian postal code ------------------------------
_POSTCODE = regex.compile(
    r"(?<=\p{L}[.'-]?,?[ \t]{1,2})"
    r"(?:[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d)(?![\w-])",
    regex.V0,
)
_TOWN_BEFORE = regex.compile(
    r"(?<![\p{L}\d'-])\p{Lu}[\p{L}'.-]+(?:[ \t]\p{Lu}[\p{L}'.-]+){0,2},?[ \t]{1,2}\Z", regex.V0
)


def towns_before_postcodes(text: str) -> list[tuple[int, int]]:
    """The town written right before a UK postcode or a Canadian postal code: "Leeds LS9
    8DT", "Sheffield, S10 2TN", "Moose Jaw SK S6H 1V6" (with the province). The postcode is
    found first (rare), then up to three capitalised words before it."""
    found = []
    for code in _POSTCODE.finditer(text):
        window_start = max(0, code.start() - 48)
        town = _TOWN_BEFORE.search(text, window_start, code.start())
        if town is not None:
            words = text[town.start() : code.start()].rstrip(" \t,")
            found.append((town.start(), town.start() + len(words)))
    return found


# ----- user ids made from a person's name ("t. wojcik" signs as "twojcik") ----------------
_WORD = regex.compile(r"\p{L}[\p{L}'’]*")


def username_forms(name: str) -> set[str]:
    """Log-in ids hospitals derive from a name: initial + family ("twojcik"), family +
    initial, given + family, initials + family, and the first 8 letters of each."""
    # "Jane Roe, PharmD, BCPS": credentials after the name are not part of it
    parts = name.split(",")
    while len(parts) > 1 and (
        words := [w.casefold().strip(".") for w in _WORD.findall(parts[-1])]
    ) and all(w in _TITLE_WORDS or (len(w) == 1 and len(words) > 1) for w in words):
        parts.pop()
    name = ",".join(parts)
    words = [w.casefold().replace("'", "").replace("’", "") for w in _WORD.findall(name)]
    words = [w for w in words if w not in _TITLE_WORDS]
    if not words:
        return set()
    if "," in name:  # "Ahmed, S" / "WOJCIK, Tomasz"
        comma = name.index(",")
        family_words = [w.casefold() for w in _WORD.findall(name[:comma])]
        given_words = [w.casefold() for w in _WORD.findall(name[comma:])]
    else:
        given_words, family_words = words[:1], words[1:]
    if not family_words:
        family_words, given_words = given_words, []
    family = "".join(family_words)
    forms: set[str] = set()
    if given_words:
        given = given_words[0]
        middle = "".join(w[0] for w in given_words[1:])
        forms |= {
            given[0] + family,
            given[0] + middle + family,
            family + given[0],
            given + family,
            given[0] + family_words[0] + "".join(w[0] for w in family_words[1:]),
        }
        if len(family_words) > 1:
            forms.add(given[0] + family_words[0])
    forms |= {form[:8] for form in forms if len(form) > 8}
    return {form for form in forms if len(form) >= 5}


def short_username_forms(name: str) -> set[str]:
    """Log-in ids cut from a name, matched only whole: the given name's initial and the
    family name's first three to six letters ("IMACA" for Iain MacAulay, "FSTO" for Fraser
    Stone, "dcun" for D. Cunningham, "clindgr" for C. Lindgren)."""
    words = [w.casefold() for w in _WORD.findall(name.split(",")[0])]
    words = [w for w in words if w not in _TITLE_WORDS]
    if len(words) < 2 or len(words[-1]) < 4:
        return set()
    given, family = words[0], words[-1].replace("'", "").replace("’", "")
    return {given[0] + family[:k] for k in range(3, min(7, len(family)))}


_TITLE_WORDS = frozenset(
    "dr mr mrs ms mx miss prof md rn np pa do pharmd pt dpt ot cnm lpn crna phd bcps mph "
    "facp facc facs msn bsn aprn fnp lcsw msw slp rrt otr cna mbbs frcp frcpc jr sr".split()
)


def derived_usernames(
    text: str, names: Iterable[str], is_word: Any = None
) -> list[tuple[int, int]]:
    """Words of ``text`` that are a log-in id derived from one of ``names`` (a cut id only
    when it is no ordinary word: ``is_word``)."""
    forms: set[str] = set()
    short: set[str] = set()
    for name in names:
        forms |= username_forms(name)
        short |= short_username_forms(name)
    if not forms and not short:
        return []
    found = []
    for match in _LOGIN_WORD.finditer(text):
        word = match.group().casefold()
        # the id itself, or with up to three trailing characters ("acastillob", "twojcik2")
        if len(word) >= 5 and any(
            word[: len(word) - cut] in forms for cut in range(min(3, len(word) - 5) + 1)
        ):
            found.append(match.span())
        # a cut id whole, written in one case ("IMACA", "dcun"), not a word of the name
        elif (
            word in short
            and (match.group().isupper() or match.group().islower())
            and not (is_word is not None and is_word(word))
        ):
            found.append(match.span())
    return found


_LOGIN_WORD = regex.compile(r"(?<![\w@.])[A-Za-z][A-Za-z0-9]{3,}(?![\w@])")


# ----- lower-case signatures ("m. ruiz-tanaka, pharmd", "danielle rn") ---------------------
_LOWER_CREDENTIAL = regex.compile(
    # (an initial without its full stop too: "c giannakopoulos md", "carmelita v np"; three
    # words: "ngoc anh pham MA")
    r"(?<![\w.'’])(?P<name>(?:[a-z]\.?[ \t])?[a-z][a-z'’-]{1,}(?:[ \t]+[a-z][a-z'’-]+){0,2}"
    r"(?:[ \t]+[a-z]\.?)?(?:,[ \t]*[a-z]\.?)?)"
    r",?[ \t]+(?P<cred>(?i:rn|r\.n\.|pharmd|md|m\.d\.|np|cnm|dpt|lpn|crna|msw|lcsw|licsw|slp|rrt|"
    r"otr(?:/l)?|aprn|fnp|pa-c)|(?-i:MA|CMA)|pt|ot)(?![\w-])",
)


def lowercase_signatures(text: str, is_word: Any) -> list[tuple[int, int]]:
    """Lower-case names signing with a credential. ``is_word(w)`` says a word is ordinary
    English or clinical vocabulary (not a name); "pt"/"ot" (also "patient", "therapy") count
    only after an initial ("t. wojcik pt")."""
    found = []
    for match in _LOWER_CREDENTIAL.finditer(text):
        name = match.group("name")
        words = [w for w in _WORD.findall(name) if len(w) > 1]
        if not words:
            continue
        initial = regex.match(r"[a-z]\.", name) is not None or regex.search(r"[a-z]\.?$", name)
        if match.group("cred") in ("pt", "ot") and not initial:
            continue
        # "seen by pt", "d/w rn": every word must be a name, not vocabulary; leading words
        # that are ("report to emeka rn") are no part of it
        start = match.start("name")
        for word in regex.finditer(r"[a-z][a-z'’-]*", name):
            if (
                len(word.group()) < 2
                or not is_word(word.group())
                or word.end() == len(name)
                or match.group("cred") in ("pt", "ot")
            ):
                break
            start = match.start("name") + word.end()
        kept = text[start : match.end("name")]
        if _WORD.search(kept) and all(not is_word(w) for w in _WORD.findall(kept) if len(w) > 1):
            found.append((start + len(kept) - len(kept.lstrip()), match.end("name")))
    return found


_LOWER_RELATION = regex.compile(
    r"\b(?:son|daughter|wife|husband|sister|brother|mother|father|mom|dad|neighbou?r|friend|"
    r"partner|niece|nephew|aunt|uncle|grandson|granddaughter|son-in-law|daughter-in-law|"
    r"caregiver|cousin|boyfriend|girlfriend|fianc[ée]e?)[ \t]+(?P<name>[a-z][a-z'’-]{2,})\b",
    regex.I,
)


# staff named by role in quick notes and speech recognition: "nm supervisor odile aware",
# "case mgr rhea", "result called to doctor sade",
# "intake jem at 555-...", and a name before its role in parentheses: "w/ priya (psych np)"
_LOWER_ROLE = regex.compile(
    r"\b(?:supervisor|charge(?:[ \t]+(?:rn|nurse))?|case[ \t]+(?:mgr|manager)|sw|"
    r"social[ \t]+worker|intake|scheduler|coordinator|chaplain|interpreter|sitter|cna|pca|"
    r"tech|rt|np|pa|fellow|resident|attending|hospitalist|nurse|pharmacist|dietitian|"
    r"therapist|aide|clerk|secretary|unit[ \t]+clerk|ot|ota|dn|hca|slt|physio|doctor|dr\.?)[ \t]+"
    # (a second word is no role word: "primary doctor comma doctor knox")
    r"(?P<name>[a-z][a-z'’-]{2,}(?:[ \t]+(?!doctor\b)[a-z][a-z'’-]{2,})?)\b"
    r"|(?<![\w.'’-])(?P<name>[a-z][a-z'’-]{2,})[ \t]+\((?:[a-z]+[ \t]){0,2}(?:np|rn|md|pa|"
    r"pa-c|sw|rt|cna|lpn|pharmd|resident|attending|fellow|charge|nurse|therapist|"
    r"coordinator|chaplain|interpreter|son|daughter|wife|husband|sister|brother|mother|"
    r"father|friend|neighbou?r)\)",
)


def lowercase_relatives(text: str, is_word: Any) -> list[tuple[int, int]]:
    """A lower-case name right after a relation word ("son-in-law venkat") or a staff role
    ("supervisor odile"), or before a role in parentheses ("priya (psych np)"), when the
    word is not ordinary English or clinical vocabulary ("son called", "wife passed")."""
    found = []
    for pattern in (_LOWER_RELATION, _LOWER_ROLE):
        for m in pattern.finditer(text):
            name = m.group("name")
            first = name.split()[0]
            if not name.islower() or is_word(first):
                continue
            # a second word joins only when it is no ordinary word either ("ot hollie
            # mayhew", not "ot hollie came")
            second = name[len(first) :].strip()
            end = m.end("name") if second and not is_word(second) else m.start("name") + len(first)
            found.append((m.start("name"), end))
    return found


# ----- a log-in id ending a signature or a print stamp ("rosa d. rn  rdasilva") -----------
_LOGIN_AT_LINE_END = regex.compile(
    r"(?mi)(?:\b(?:by|rn|r\.n\.|md|np|pa|pa-c|pt|ot|lpn|pharmd|msw|lcsw|dpt|slp|rrt|cna|"
    r"dn|rgn|rmn|ota|hca|cns|slt|rd|sw)\.?,?)"
    r"(?:[ \t]+|[ \t]*/[ \t]*)(?P<login>[a-z][a-z0-9._]{4,15})[ \t]*$"
    r"|(?:^|[ \t]{2,}|[ \t]{1,2}/|(?<=\d[.!?])[ \t])(?P<login>[a-z][a-z0-9._]{4,15})[ \t]*\n?\Z",
)
_CAPITALS_LOGIN_ENDING_NOTE = regex.compile(
    r",[ \t]*[A-Z]{2,5}[ \t]{2,}(?P<login>[A-Z]{6,12})[ \t]*\n?\Z"
)


def logins_at_line_end(text: str, is_word: Any) -> list[tuple[int, int]]:
    """A lower-case log-in id after a credential or "by" at the end of a line, or ending the
    note on its own ("\nnferrell", "  /kbrzez"), when it is no ordinary or clinical word
    ("printed by cvanderwalt", "rosa d. rn   rdasilva"); in capitals after a signature's
    credential at the note's end ("S. Two Crow, CHR   STWOCROW")."""
    found = [
        m.span("login")
        for m in _LOGIN_AT_LINE_END.finditer(text)
        if m.group("login").islower() and not is_word(m.group("login").rstrip("."))
    ]
    if (capitals := _CAPITALS_LOGIN_ENDING_NOTE.search(text)) and not is_word(
        capitals.group("login").lower()
    ):
        found.append(capitals.span("login"))
    return found


# ----- handles in exported message threads and stamps ("22:41 rkhan2: on my way") ----------
_HANDLE_SHAPES = regex.compile(
    # a time stamp starting the line, then the sender's handle and ":" or "(full name"
    r"(?m)^[ \t]*(?:\d{1,2}/\d{1,2}/\d{2,4}[ \t]+)?(?:\[?\d{1,2}:\d{2}(?::\d{2})?\]?|\[?\d{4}\]?)"
    r"[ \t]+"
    # (in capitals too when an underscore or a digit marks it a handle: "RPh_DWinslow")
    r"(?P<login>[a-z][a-z0-9._]{2,15}|(?=[A-Za-z0-9.]*[_\d])[A-Za-z][A-Za-z0-9._]{2,24})"
    r"(?=[ \t]*(?::|\([^)\n]{0,60}\)[ \t]*:?)|[ \t]+-[ \t]+\p{Lu})"
    # an account or billing log's user after the entry's date (and time): "06/19/82 09:14
    # LMORAVEC - Claim denied", "08/05/85 kpatel: Mom's coverage", "12/02/89 LB - Initial"
    r"|(?m)^[ \t]*\d{1,2}/\d{1,2}/\d{2,4}(?:[ \t]+\d{1,2}:\d{2})?[ \t]+"
    r"(?:(?P<login>[a-z][a-z0-9._]{2,15})"
    r"(?=[ \t]*(?::|\([^)\n]{0,60}\)[ \t]*:?)|[ \t]+-[ \t]+\p{Lu})"
    r"|(?P<login>[A-Z]{2,10})(?=[ \t]+-[ \t]+\p{Lu}))"
    # the handle first, then the time: "shavonne.p 08:02: anybody know ..."
    r"|(?m)^[ \t]*(?P<login>[a-z][a-z0-9._]{2,20})(?=[ \t]+\[?\d{1,2}:\d{2}(?::\d{2})?\]?[ \t]*:)"
    # a portal or e-mail sender's handle in parentheses after the name: "From: Ana Ruiz
    # (ana.ruiz82)", "Sender: K. Obi (kobi)"
    r"|(?<=\b(?i:from|sender|sent\s+by|to|author|user)[ \t]*:[ \t]*[^\n()]{2,60}\()"
    r"(?P<login>[a-z][a-z0-9._]{2,24}|(?=[A-Za-z0-9._]*\d)[A-Za-z][A-Za-z0-9._]{2,24})(?=\))"
    # a handle in parentheses closing a signature line after a credential or a time stamp:
    # "J. Ruiz, MD  (jruiz4)", "01/02/2070 1915  (mokafor)"
    r"|(?<=(?:\d|\b(?:MD|DO|RN|NP|PA|PA-C|PharmD|DPT|LPN|BSN|CCRN|CNM|CRNA|LCSW|LICSW|"
    r"M\.D|R\.N)\.?)[ \t]{1,3}\()(?P<login>[a-z][a-z0-9._]{3,15})(?=\)[ \t]*$)"
    # "printed by kvoss 07:10", "exported by mlee from ..."
    r"|\b(?i:printed|exported|entered|created|generated|modified|updated|uploaded|edited|"
    r"accessed|released|filed|logged|run)[ \t]+(?:\S+[ \t]+){0,2}?(?i:by)[ \t]+"
    r"(?P<login>[a-z][a-z0-9._]{2,15})\b(?![.'’-]\w)"
    # a chat's @mention ("@mvanterpool can you come", "@rrt_nights"), not an e-mail's domain
    r"|(?<![\w.@])@(?P<login>[A-Za-z][A-Za-z0-9._-]{2,30}[A-Za-z0-9])(?![\w@-])"
    # an access log's user column after its time stamp or address: "2079-04-16 01:15 |
    # hstrand | WS ...", "VPN 192.0.2.250 | ext_billing07 |" (not a table of drugs or foods)
    r"|(?<=(?:\d:\d\d|\d\.\d{1,3})[ \t]{1,3}\|[ \t]{1,3})(?P<login>[a-z][a-z0-9._]{3,15})"
    r"(?=[ \t]{1,3}\|)"
    # who did it, by log-in, before a time or a date, or ending the line or the sentence:
    # "closed by rvlloyd 03:09", "read back by kbaptist. Read-back done."
    r"|(?<=\bby[ \t]{1,2})(?P<login>[a-z][a-z0-9._]{4,15})"
    r"(?=[ \t]{1,2}[\dO]\d?[:/]|\.?[ \t]*$|\.[ \t]+\p{Lu})"
    # a log-in with an underscore or a digit after "by" wherever it stands: "called to RN at
    # 0640 by lab_kmh, read back"
    # (these three consume their label: a look-behind here was tried at every position)
    r"|\bby:?[ \t]{1,2}(?P<login>(?=[a-z0-9.]*[_\d])[a-z][a-z0-9._]{1,15}[a-z0-9])(?![\w.'’-])"
    r"|\b(?:by|BY)[ \t]{1,2}"
    # (a gene is no log-in: "driven by NPM1", nor an agency: "by LVMPD"; an underscore, or a
    # hyphen and a digit: "RN3E_ABRIS", "PSC4-MB"; not "MALDI-TOF")
    r"(?P<login>(?=[A-Z0-9-]*_|[A-Z0-9-]*-[A-Z0-9-]*\d|[A-Z0-9-]*\d[A-Z0-9-]*-)"
    r"[A-Z][A-Z0-9_-]{2,15}[A-Z0-9]|[A-Z][A-Z]{5,15})(?![\w'’-]|\.\w)"
    # after its label: "clinician login nsaldana", "Editor: tk_obi", "recorder kps-amb-03",
    # "User ID: mokafor"
    r"|\b(?i:log-?in|logon|user[ \t]?name|user[ \t]?id|userid|editor|recorder|owner)[ \t]*[:=]?"
    r"[ \t]{0,2}(?P<login>[a-z][a-z0-9._-]{2,24}[a-z0-9])(?![\w.'’-]|-\w)"
    # the typist by initials and name: "Typed: fq/nazia"; the e-signer: "e-sig OVillasenor
    # 10/09/2093"
    r"|\b(?i:typed|typist|keyed)[ \t]*(?i:by)?[ \t]*:?[ \t]{0,2}(?P<login>[a-z]{1,5}/[a-z]{2,12})\b"
    r"|\b(?i:e-?sig(?:ned)?)(?:[ \t]+(?i:by))?:?[ \t]+"
    r"(?P<login>(?=[A-Za-z]*\p{Lu}[A-Za-z]*\p{Lu}|[a-z]+\b)[A-Za-z][A-Za-z0-9._]{3,20})"
    r"(?=[ \t]+\d)",
    regex.M,
)


def message_handles(text: str, is_word: Any) -> list[tuple[int, int]]:
    """Log-in handles in the shapes of exported message threads and print stamps, when the
    handle is no ordinary or clinical word; every other occurrence of a handle found is
    the same user ("22:44 rkhan2: ok" after "22:41 rkhan2 (ravi khan, md): ...")."""
    handles = {
        m.group("login")
        for m in _HANDLE_SHAPES.finditer(text)
        if not is_word(m.group("login").rstrip("."))
    }
    if not handles:
        return []
    pattern = regex.compile(
        # (an @mention too, not the domain of an e-mail address)
        r"(?<![\w./-]|[\w.-]@)(?:"
        + "|".join(regex.escape(h) for h in sorted(handles))
        + r")(?![\w@-])"
    )
    return [m.span() for m in pattern.finditer(text)]


_HANDLE_OWNER = regex.compile(
    r"(?m)^[ \t]*(?:\[?\d{1,2}:\d{2}(?::\d{2})?\]?|\[?\d{4}\]?)[ \t]+[a-z][a-z0-9._]{2,15}[ \t]*"
    r"\((?P<name>[a-z][a-z'’-]+(?:[ \t][a-z][a-z'’-]+){0,2})(?=[ \t]*[,)])"
)


def handle_owners(text: str, is_word: Any) -> list[tuple[int, int]]:
    """The sender's name written in lower case after a handle in a message thread:
    "21:10 qbrandt (quentin brandt, np): ..."; not when every word is an ordinary one
    ("(on call)")."""
    return [
        m.span("name")
        for m in _HANDLE_OWNER.finditer(text)
        if not all(is_word(w) for w in _WORD.findall(m.group("name")))
    ]


# ----- a lower-case name after a room or bed ("rm 412b okafor k 3.1", "709 de souza fall") ---
_ROOM_THEN_NAME = regex.compile(
    r"(?:\b(?:rm|room|bed|bd|bay)\.?[ \t]*\d{1,4}[a-d]?|(?<![\w/.:-])\d{2,4}[a-d])[ \t]+"
    r"(?P<name>(?:[a-z]\.[ \t]?)?(?:(?:de|da|del|della|di|van|von|la|le|st\.?)[ \t]+)?"
    r"(?P<first>[a-z][a-z'’-]{2,}))(?:[ \t]+(?P<second>[a-z][a-z'’-]{2,}))?",
)


def names_after_room(
    text: str, is_word: Any, is_listed_name: Any = None
) -> list[tuple[int, int]]:
    """Lower-case patient names after a room or bed number in census and cross-cover logs,
    when the name is no ordinary or clinical word; a second word is kept only when it is no
    such word either ("rm 12 hale refused" -> "hale", "bed 4 ines pardo" -> both)."""
    found = []
    for match in _ROOM_THEN_NAME.finditer(text):
        first = match.group("first").strip("'’-")
        if is_word(first):
            continue
        end = match.end("name")
        second = match.group("second")
        if second is not None and not is_word(second.strip("'’-")):
            end = match.end("second")
        # a short word alone may be a ward abbreviation ("rm 14 npo", "bed 2 tele"): it needs
        # to be a listed name ("rm 12 chen"), an initial or particle before it, or a second
        # name word after it
        elif (
            len(first) < 5
            and match.start("first") == match.start("name")
            and not (is_listed_name is not None and is_listed_name(first))
        ):
            continue
        found.append((match.start("name"), end))
    return found


# ----- a roster row: a person's name before their record number ----------------------------
# "  3  Bell, Frank          MV190472   N   called", " 6  joy xiong   MV222019", "3) Hope
# Stanley (KVH-188120) - PHQ 5": a row's number, two or three name words, then an id of five
# digits or more after two spaces or in brackets
_ROSTER_ROW = regex.compile(
    # (or a bed's or cell's code opening the row: "K-105 Hightower, Sterling   1000009938")
    r"(?m)^[ \t]*(?:\d{1,3}[.)]?|[A-Z]{1,2}-?\d{1,4})[ \t]+"
    r"(?P<name>\p{L}[\p{L}'’-]+(?:,?[ \t]\p{L}[\p{L}'’-]+){1,2})"
    # (or before a date of birth: " 4  Hofer, Elias   07/07/2060   L thigh")
    r"(?=[ \t]{2,}(?:MRN[ \t:#]*)?[A-Z]{0,4}-?\d{5,}(?![\w/-])"
    r"|[ \t]{2,}\d{1,2}/\d{1,2}/\d{2,4}(?![\d/])"
    r"|[ \t]\((?:MRN[ \t:#]*)?[A-Z]{0,4}-?\d{5,}\))"
    # and a row opened by the person's id, the name in capitals as "FAMILY, GIVEN", then a
    # column after two spaces: "B41172   ALVARADO, JESUS            4-101  0    NEG"
    r"|(?m)^[ \t]*[A-Z]{0,2}\d{5,}[ \t]{2,}"
    r"(?P<name>\p{Lu}[\p{Lu}'’-]+,[ \t]\p{Lu}[\p{Lu}'’-]+(?:[ \t]\p{Lu}\.?)?)(?=[ \t]{2,}\S)",
    regex.V0,
)
_ROSTER_WORD = regex.compile(r"[\p{L}'’-]+", regex.V0)


def names_before_row_ids(text: str, is_word: Any, is_listed_name: Any) -> list[tuple[int, int]]:
    """Names in a numbered roster whose rows give each person's record number after the
    name, whatever the case: one word of the name must be a listed name or no word at all
    (not "2  Blood Culture   BC2291044", a lab table's row)."""
    found = []
    for match in _ROSTER_ROW.finditer(text):
        words = _ROSTER_WORD.findall(match.group("name"))
        if any(is_listed_name(w) or not is_word(w.lower()) for w in words):
            found.append(match.span("name"))
    return found
