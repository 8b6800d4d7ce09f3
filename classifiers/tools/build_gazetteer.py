#!/usr/bin/env python3
"""Builds earshot's generated organisation gazetteer from the ODS reference data.

Usage:
    python3 classifiers/tools/build_gazetteer.py [DATA_DIR] [--out DIR]

DATA_DIR is the shared reference data folder (default: ../shared/data beside
the repository); its orgs/ subfolder is read (see its PROVENANCE.md). Output
goes to config/orgs/generated/ (or --out). Standard library only.

What is written are FACTS derived mechanically from the data: codes, names,
normalised name variants, places for context, raw parent codes, status and web
domains. Judgement (aliases, successors of merged trusts, corrections of
upstream errors, extra domains) lives in the hand-written files of
config/orgs/ and is applied by the loader (classifiers/orgs), not here.

Output is deterministic: rows sorted by code, lists sorted, no timestamps.

Variant syntax (read by classifiers/orgs/gazetteer.cc):
    lower-case words separated by single spaces; apostrophes kept as "'";
    "&" written "and"; "saint" written "st".
    A leading "?" marks a variant that names a kind of place rather than one
    place ("city hospital", "county hospital"): it routes only with context
    in the post. A leading "~" marks a short form (no "Hospital", no "NHS
    Trust") that routes only with a health word nearby and no blocking word
    after it ("Charing Cross station").
"""

import argparse
import csv
import hashlib
import io
import os
import re
import sys
from collections import Counter, defaultdict
from urllib.parse import urlparse

# ---------------------------------------------------------------------------
# Word classes used to decide which forms of a name are safe to match alone.

# Words that describe a kind of facility rather than name one.
DESCRIPTIVE = set("""
the of and for at in on upon by with a an
royal general district county city community university teaching memorial war
cottage children's childrens women's womens eye dental maternity mental health
medical treatment day new old north south east west central main national
regional specialist rehabilitation orthopaedic psychiatric infirmary hospital
hospitals centre center unit clinic hospice wing campus site services service
care integrated partnership foundation trust nhs acute northern southern eastern
western mid upper lower great little greater outpatient outpatients urgent
emergency minor injuries injury surgical surgery diagnostic diagnostics cancer
heart chest neurology neuro rehab neurosciences psychiatry learning disability
disabilities forensic secure inpatient assessment elderly older people adult
adults young child family families womens' child's paediatric paediatrics
healthcare hospital's house court lodge hall road street lane avenue park
green hill view grange manor farm close way place gardens mount castle bridge
field wood valley river riverside vale bay cross gate meadow meadows moor oak
elm cedar ash beech willow birch forest lakeside seaside village town
primary complex area network building annexe annex resource day college
school institute academy development developmental paeds community services
""".split())

# Everyday words: a short form made only of these, descriptive words and
# places is a phrase, not a name ("Good Hope", "Royal United").
COMMON = set("""
good hope free united spring springs summer winter star rose primrose holly ivy
heath heather fair pleasant haven harbour garden gardens square station
stone rock white black red green blue golden silver grey brown end mile long
high low deep wide open free fields field orchard willows chase end ends
""".split())

# Royal, saints' and common first names: a name made of these and descriptive
# words ("Queen Elizabeth Hospital", "St Mary's") is shared by many places.
NAMEISH = set("""
st queen queen's queens king king's kings princess prince duke duchess countess
lady lord bishop victoria elizabeth alexandra mary mary's marys george george's
georges james james's jameses thomas thomas' thomas's john john's johns luke
luke's lukes michael michael's michaels peter peter's peters helen helen's
helens helier andrew andrew's martin martin's martins richard richard's
margaret margaret's margarets anne anne's annes ann ann's albert edward
charles charlotte charlotte's diana william william's barnabas bartholomew's
leonard leonard's leonards nicholas catherine catherine's monica monica's
monicas oswald oswald's oswalds cross christopher christopher's jude jude's
lawrence lawrences paul paul's mark matthew joseph francis patrick patrick's
cuthbert cuthbert's ann's agnes alfred samuel ellen dorothy edith florence
david dan robert julian juliana mary's julia julia's brendan brendans
philip philip's wales
""".split())

FIRST_NAMES = set("""
george john james william thomas robert samuel charles edward albert alfred
david dan michael peter richard mary elizabeth victoria alexandra diana anne
ann agnes ellen dorothy edith florence margaret helen catherine julian
""".split())

# Descriptive names of three or more words that people use generically.
GENERIC_PHRASES = {"district general hospital", "general district hospital",
                   "community general hospital", "local general hospital",
                   "children's community hospital", "general community hospital",
                   "university teaching hospital", "women's and children's hospital",
                   "mental health unit", "child development centre"}

# Facility nouns that end a site name.
FACILITY = {"hospital", "hospitals", "infirmary", "centre", "center", "unit",
            "clinic", "hospice"}

# Words that mark an organisation as a provider of care (used for trust names).
ORGISH = {"hospital", "hospitals", "healthcare", "health", "care", "teaching",
          "university", "partnership", "ambulance", "community", "services",
          "alliance", "integrated", "mental", "children's", "women's", "cancer",
          "orthopaedic", "eye", "heart", "chest"}

# Address parts that are street names, not localities.
STREET_WORDS = {"road", "street", "lane", "avenue", "way", "drive", "close",
                "place", "square", "terrace", "grove", "crescent", "gardens",
                "walk", "rise", "row", "parade", "chase", "broadway", "promenade",
                "court", "house", "hospital", "centre", "unit", "floor", "ward",
                "building", "site", "campus", "wing", "block", "office", "hall",
                "lodge", "clinic", "infirmary", "park", "estate", "suite",
                "road,", "level", "entrance", "reception", "department"}

SCOTTISH_BOARDS = {
    # source_list value -> (GSS code, board name). GSS codes (2019 set) are
    # used because the source gives no ODS code for Scottish boards.
    "AYRSHIRE_AND_ARRAN": ("S08000015", "NHS Ayrshire and Arran"),
    "BORDERS": ("S08000016", "NHS Borders"),
    "DUMFRIES_AND_GALLOWAY": ("S08000017", "NHS Dumfries and Galloway"),
    "FORTH_VALLEY": ("S08000019", "NHS Forth Valley"),
    "GRAMPIAN": ("S08000020", "NHS Grampian"),
    "HIGHLAND": ("S08000022", "NHS Highland"),
    "LOTHIAN": ("S08000024", "NHS Lothian"),
    "ORKNEY": ("S08000025", "NHS Orkney"),
    "SHETLAND": ("S08000026", "NHS Shetland"),
    "WESTERN_ISLES": ("S08000028", "NHS Western Isles"),
    "FIFE": ("S08000029", "NHS Fife"),
    "TAYSIDE": ("S08000030", "NHS Tayside"),
    "GREATER_GLASGOW_AND_CLYDE": ("S08000031", "NHS Greater Glasgow and Clyde"),
    "LANARKSHIRE": ("S08000032", "NHS Lanarkshire"),
}

# Northern Ireland HSC trusts: the source gives no code; these local codes are
# earshot's own (documented in config/orgs/README.md).
NI_TRUSTS = {
    "BELFAST_HEALTH_AND_SOCIAL_CARE_TRUST": ("NI-BHSCT", "Belfast Health and Social Care Trust"),
    "NORTHERN_HEALTH_AND_SOCIAL_CARE_TRUST": ("NI-NHSCT", "Northern Health and Social Care Trust"),
    "SOUTH_EASTERN_HEALTH_AND_SOCIAL_CARE_TRUST": ("NI-SEHSCT", "South Eastern Health and Social Care Trust"),
    "SOUTHERN_HEALTH_AND_SOCIAL_CARE_TRUST": ("NI-SHSCT", "Southern Health and Social Care Trust"),
    "WESTERN_HEALTH_AND_SOCIAL_CARE_TRUST": ("NI-WHSCT", "Western Health and Social Care Trust"),
}

WELSH_SOURCE_LISTS = {
    "ANEURAN_BEVAN_LOCAL_HEALTH_BOARD": "7A6",
    "BETSI_CADWALADR_UNIVERSITY_HEALTH_BOARD": "7A1",
    "CARDIFF_AND_VALE_HEALTH_BOARD": "7A4",
    "CWM_TAF_HEALTH_BOARD": "7A5",
    "HYWEL_DDA_LOCAL_HEALTH_BOARD": "7A2",
    "POWYS_TEACHING_LOCAL_HEALTH_BOARD": "7A7",
    "SWANSEA_BAY_UNIVERSITY_HEALTH_BOARD": "7A3",
}

POSTCODE_RE = re.compile(r"^([A-Z]{1,2}[0-9][0-9A-Z]?)\s*([0-9][A-Z]{2})?$")

# ---------------------------------------------------------------------------
# Text helpers.

UPPER_WORDS = {"nhs", "icb", "uhb", "lhb", "cic", "uk", "hsc", "ft", "cdc",
               "iapt", "ent", "ii", "qeii", "mh", "bcp", "gp", "ltd", "dhu",
               "kims", "hca", "pds", "chcp", "ecch", "mkgh", "kmh", "rlh", "gstt"}
LOWER_WORDS = {"and", "of", "the", "for", "upon", "on", "in", "at", "with", "by",
               "le", "la", "de", "under", "super", "en", "y", "yr", "a"}


def fix_text(s):
    """Trims, turns typographic quotes into plain ones, squeezes spaces."""
    s = (s or "").replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    s = s.replace("\u00a0", " ")
    return re.sub(r"\s+", " ", s).strip()


def title_case(s):
    """Title-cases an upper-case ODS name: "GUY'S AND ST THOMAS'" -> "Guy's and St Thomas'"."""
    s = fix_text(s)
    out = []
    words = s.split(" ")
    for i, w in enumerate(words):
        lw = w.lower()
        if lw in UPPER_WORDS:
            out.append(lw.upper())
            continue
        if i > 0 and lw in LOWER_WORDS:
            out.append(lw)
            continue

        def cap(part):
            if not part:
                return part
            m = re.match(r"^([^a-z0-9]*)([a-z0-9])(.*)$", part)
            if not m:
                return part
            rest = m.group(3)
            # "o'dee" -> "O'Dee" ; "guy's" stays "Guy's"
            rest = re.sub(r"'([a-z]{2,})", lambda mm: "'" + mm.group(1).capitalize(), rest)
            return m.group(1) + m.group(2).upper() + rest

        out.append("-".join(cap(p) for p in lw.split("-")))
    return " ".join(out)


def maybe_title(s):
    """Title-cases names written in capitals; keeps mixed-case names."""
    s = fix_text(s)
    letters = [c for c in s if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) > 0.8 * len(letters):
        return title_case(s)
    return s


def normalise(s):
    """Variant form: lower case, "&" -> "and", "saint" -> "st", punctuation
    other than apostrophes removed, single spaces."""
    s = fix_text(s).lower()
    s = s.replace("&", " and ").replace("+", " and ")
    s = re.sub(r"\bst\.", "st ", s)
    s = re.sub(r"[^a-z0-9'\u00c0-\u024f\u1e80-\u1ef3]+", " ", s)
    words = []
    for w in s.split():
        w = re.sub(r"'+", "'", w).lstrip("'")
        # Keep apostrophes inside a word (guy's) and after a final s (thomas').
        if w.endswith("'") and not w.endswith("s'"):
            w = w.rstrip("'")
        if w:
            words.append("st" if w == "saint" else w)
    return " ".join(words)


def tokens(s):
    return normalise(s).split(" ") if normalise(s) else []


def outward(postcode):
    pc = fix_text(postcode).upper()
    m = POSTCODE_RE.match(pc)
    return m.group(1) if m else ""


def registrable_domain(url):
    url = fix_text(url)
    if not url:
        return ""
    if "://" not in url:
        url = "http://" + url
    try:
        host = (urlparse(url).hostname or "").lower().strip(".")
    except ValueError:
        return ""
    if host.endswith(".nhs.uk"):
        labels = host.split(".")
        if len(labels) >= 3:
            return ".".join(labels[-3:])
    return ""


def read_csv(path, delimiter=",", encoding="utf-8"):
    with open(path, newline="", encoding=encoding) as f:
        return list(csv.DictReader(f, delimiter=delimiter))


# ---------------------------------------------------------------------------
# Places: towns, cities, counties, local authorities, localities.

LA_STRIP = [r"^corporation of the ", r"^council of the ", r"^london borough of ",
            r"^royal borough of ", r"^city of ", r" metropolitan borough council$",
            r" metropolitan district council$", r" city council$", r" county council$",
            r" borough council$", r" district council$", r" council$"]


def la_place(name):
    s = fix_text(name)
    low = s.lower()
    for pat in LA_STRIP:
        low = re.sub(pat, "", low)
    low = low.strip()
    if not low or low in {"bcp"}:
        return ""
    return title_case(low)


# Words that show an address part or bracket is not a place.
PLACE_JUNK = {"rd", "hq", "nhs", "acute", "wards", "ward", "headquarters", "purposes",
              "admin", "group", "market", "pond", "precinct", "path", "yard", "point",
              "surgery", "out", "epact", "epma", "cetu", "medipark", "health", "trust",
              "services", "centre", "unit", "clinic", "hospital", "floor", "wing"}


def clean_place(s):
    s = fix_text(s)
    s = re.sub(r"\(.*?\)", "", s).strip(" ,.")
    if not s or any(c.isdigit() for c in s):
        return ""
    if s.lower() in {"uk", "united kingdom", "england", "wales", "scotland"}:
        return ""
    toks = normalise(s).split(" ")
    if not toks or toks[0] == "the" or any(t in PLACE_JUNK or t in STREET_WORDS for t in toks):
        return ""
    if all(t in DESCRIPTIVE or t in COMMON for t in toks):
        return ""  # "West End", "Castle Hill"
    return maybe_title(s).replace("St. ", "St ")


def locality(part, site_name_norm):
    """An address part that names a locality ("Headington"), or ""."""
    p = clean_place(part)
    if not p:
        return ""
    words = normalise(p).split(" ")
    if not words or len(words) > 3:
        return ""
    if any(w in STREET_WORDS for w in words):
        return ""
    if normalise(p) in site_name_norm:
        return ""
    return p


# ---------------------------------------------------------------------------
# Name analysis.


class Namer:
    """Derives the variants of a name given the known place words."""

    def __init__(self, place_words, place_phrases):
        self.place_words = place_words
        self.place_phrases = place_phrases

    def is_place_phrase(self, toks):
        return " ".join(toks).replace("'", "") in self.place_phrases

    def descriptive_only(self, toks):
        return all(t in DESCRIPTIVE for t in toks)

    def distinctive(self, toks):
        """A short form is safe alone when it has two or more words, at least
        one of which is neither descriptive, a royal/saint's name, nor a place,
        and it does not start with a first name ("George Eliot")."""
        content = [t for t in toks if t not in {"the", "of", "and", "for"}]
        if len(content) < 2:
            return False
        if content[0] in FIRST_NAMES or content[0] in {"st", "saint"}:
            return False
        for t in content:
            bare = t.replace("'", "")
            if t in DESCRIPTIVE or t in NAMEISH or bare in NAMEISH or t in COMMON:
                continue
            if t in LOWER_WORDS or len(bare) <= 2:
                continue  # "le" in "Chester le Street"
            if bare in self.place_words or t in self.place_words:
                continue
            if bare.endswith("s") and bare[:-1] in self.place_words:
                continue
            return True
        return False

    def site_variants(self, raw_name, extra_names=()):
        """Returns (variants, places) for a site name."""
        places = set()
        names = []
        for name in (raw_name,) + tuple(extra_names):
            n, p = self.split_name(name)
            places |= p
            if n:
                names.append(n)
        variants = set()
        for n in names:
            variants |= {v for v in self.variants_of(n) if self.keep(v)}
        # "University Hospital (Coventry)" is also written "University
        # Hospital Coventry".
        for inner in re.findall(r"\(([^)]*)\)", fix_text(raw_name)):
            pl = clean_place(inner)
            if not pl or set(tokens(pl)) & (FACILITY | STREET_WORDS):
                continue
            for v in list(variants):
                bare = v.lstrip("?~")
                if v[0] != "~" and bare.split(" ")[-1] in FACILITY:
                    variants.add(bare + " " + normalise(pl))
        return variants, places

    def split_name(self, name):
        """Strips owner suffixes (" - X NHS Trust"), parenthesised and
        comma-separated places. Returns (name, places)."""
        name = fix_text(name)
        places = set()
        for inner in re.findall(r"\(([^)]*)\)", name):
            pl = clean_place(inner)
            if pl and not any(w in FACILITY for w in tokens(pl)):
                places.add(pl)
        name = re.sub(r"\([^)]*\)", " ", name)
        parts = [p.strip() for p in re.split(r"\s+-\s+|:\s+", name) if p.strip()]

        def orgish(p):
            t = tokens(p)
            return ("nhs" in t or "trust" in t or "ltd" in t or "limited" in t or "cic" in t
                    or "uclh" in t or "ccg" in t or "llp" in t)

        kept = [p for p in parts if not orgish(p)]
        if not kept:
            return "", places
        with_facility = [p for p in kept if set(tokens(p)) & FACILITY]
        name = (with_facility or kept)[0]
        if "," in name and set(tokens(name.split(",")[0])) & FACILITY:
            head, *rest = [p.strip() for p in name.split(",")]
            for r in rest:
                if any(w in FACILITY for w in tokens(r)):
                    continue
                pl = clean_place(r)
                if pl:
                    places.add(pl)
            name = head
        return name, places

    def variants_of(self, name):
        toks = tokens(name)
        if toks and toks[0] == "the":
            toks = toks[1:]
        if not toks:
            return set()
        out = set()
        # "Hospital of St Cross" -> "st cross hospital"
        if len(toks) > 3 and toks[0] in FACILITY and toks[1] == "of" and toks[2] == "st":
            out |= self.variants_of(" ".join(toks[2:] + [toks[0]]))
        fac_idx = max((i for i, t in enumerate(toks) if t in FACILITY), default=-1)
        if fac_idx < 0:
            # No facility noun ("The Christie main site", "Addenbrooke's",
            # "Sandringham House"): such names are left to the curated
            # aliases, except Welsh "Ysbyty X" (hospital X).
            if toks[0] == "ysbyty" and len(toks) >= 2:
                out.add(" ".join(toks))
            return out
        tail = toks[fac_idx + 1:]
        full = toks[: fac_idx + 1]
        if tail and all(t.replace("'", "") in self.place_words or t in LOWER_WORDS for t in tail):
            # "Queen Elizabeth Hospital Birmingham": the tail is a place.
            out.add(self.mark(full, True) + " ".join(toks))
            out.add(self.mark(full) + " ".join(full))
        elif tail:
            out.add(self.mark(toks) + " ".join(toks))
            # "Friarage Hospital Site": the short form is the same place; but
            # "Royal London Hospital for Integrated Medicine" is not the
            # Royal London Hospital.
            if tail[0] in {"site", "main", "campus", "at"} and not self.descriptive_only(full):
                out.add(self.mark(full) + " ".join(full))
        else:
            out.add(self.mark(full) + " ".join(full))
        core = full[:-1]
        if core and core[-1] in {"community", "district", "general", "memorial",
                                 "cottage", "war", "medical", "health", "treatment",
                                 "day", "university", "dental", "eye"}:
            pass  # "Leeds General Infirmary" keeps "General" in any short form
        if full[-1] in {"hospital", "hospitals", "infirmary"} and self.distinctive(core):
            out.add("~" + " ".join(core))
        # People swap "Infirmary" and "Hospital" ("Sunderland Royal
        # Infirmary", "Leeds General Hospital"); if that makes a name another
        # site has, the two share it and context decides.
        if full[-1] in {"hospital", "infirmary"} and core:
            swapped = core + ["infirmary" if full[-1] == "hospital" else "hospital"]
            out.add(self.mark(swapped) + " ".join(swapped))
        return out

    def mark(self, toks, force_unique=False):
        """"?" when the name is only descriptive or names a royal/saint and
        descriptive words ("St Mary's Hospital")."""
        if force_unique:
            return ""
        content = [t for t in toks if t not in {"the", "of", "and", "for"}]
        nameish = [t for t in content if t in NAMEISH or t.replace("'", "") in NAMEISH]
        if all(t in DESCRIPTIVE for t in content) and (
                len(content) <= 2 or " ".join(content) in GENERIC_PHRASES):
            return "?"  # "City Hospital", "District General Hospital"
        return ""

    def keep(self, variant):
        """Drops descriptive names of units and centres ("Inpatient Unit",
        "Child Development Centre"): they name no place."""
        toks = variant.lstrip("?~").split(" ")
        if toks[-1] in {"hospital", "hospitals", "infirmary"}:
            return True
        content = [t for t in toks if t not in {"the", "of", "and", "for"}]
        return not all(t in DESCRIPTIVE or t in COMMON for t in content)

    def trust_variants(self, name):
        toks = tokens(name)
        if toks and toks[0] == "the":
            toks = toks[1:]
        text = " ".join(toks)
        core = re.sub(r" (nhs foundation trust|nhs trust|foundation trust|nhs ft)$", "", text)
        core_t = core.split(" ")
        out = {text}
        if core == text:
            return out
        content = [t for t in core_t if t not in {"the", "of", "and", "for"}]
        # "Manchester University" alone is the university, not the trust.
        orgish = any(t in ORGISH and t != "university" for t in content)
        if len(content) >= 2 and (orgish or self.distinctive(core_t)):
            out.add("~" + core)
            if core_t[-1] == "hospitals":
                out.add("~" + core[: -1])
        for suffix in ("nhs foundation trust", "nhs trust", "nhs ft", "foundation trust"):
            out.add(core + " " + suffix)
        # "University Hospitals of Derby and Burton" is often said without
        # "University"; "Essex Partnership University" likewise.
        if " university " in " " + core + " " and len(content) >= 3 \
                and core_t[0] != "university":
            short = re.sub(r"\buniversity\b ?", "", core).strip()
            if len(short.split(" ")) >= 2:
                out.add(short + " nhs foundation trust")
                out.add(short + " nhs trust")
                if orgish and self.distinctive(short.split(" ")):
                    out.add("~" + short)
        return out


# ---------------------------------------------------------------------------


def main(argv):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", nargs="?", default=os.path.join(repo, "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(repo, "config", "orgs", "generated"))
    args = ap.parse_args(argv)
    orgs_dir = os.path.join(args.data_dir, "orgs")
    if not os.path.isdir(orgs_dir):
        sys.exit(f"build_gazetteer: {orgs_dir} is not a directory")

    def path(name):
        return os.path.join(orgs_dir, name)

    trusts = read_csv(path("trusts_2026.csv"))
    sites2020 = read_csv(path("hospital_sites_2020.csv"))
    choices = read_csv(path("nhs_choices_hospitals_2020.csv"), delimiter="~", encoding="cp1252")
    rcpch = read_csv(path("rcpch_organisations_hospitals.csv"))
    icbs = read_csv(path("england_integrated_care_boards.csv"))
    lookup = read_csv(path("england_icb_la_trust_lookup.csv"))
    regions = read_csv(path("nhs_england_regions.csv"))
    wales = read_csv(path("wales_local_health_boards.csv"))
    devolved = read_csv(path("uk_devolved_hospitals_rcpch_epilepsy12.csv"))
    choices_by_code = {r["OrganisationCode"]: r for r in choices}

    # ---- places ---------------------------------------------------------
    trust_places = defaultdict(set)
    for t in trusts:
        for p in (t["town"], t["county"]):
            pl = clean_place(p)
            if pl:
                trust_places[t["ods_code"]].add(pl)
        oc = outward(t["postcode"])
        if oc:
            trust_places[t["ods_code"]].add(oc)
    icb_region = {}
    icb_places = defaultdict(set)
    for r in lookup:
        la = la_place(r["Local Authority"])
        if la and r["ODS Trust Code"]:
            trust_places[r["ODS Trust Code"]].add(la)
        if la and r["ODS ICB Code"]:
            icb_places[r["ODS ICB Code"]].add(la)
        if r["ODS ICB Code"]:
            icb_region[r["ODS ICB Code"]] = r["NHS England Region Code"]

    all_place_names = set()
    for ps in list(trust_places.values()) + list(icb_places.values()):
        all_place_names |= {p for p in ps if not POSTCODE_RE.match(p)}
    for s in sites2020:
        for p in (s["city"], s["county"]):
            pl = clean_place(p)
            if pl:
                all_place_names.add(pl)
    for r in rcpch:
        for p in (r["City"], r["County"]):
            pl = clean_place(p)
            if pl:
                all_place_names.add(pl)
    for r in devolved:
        parts = [p for p in fix_text(r["address"]).split(",") if p.strip()]
        if parts:
            pl = clean_place(parts[-1])
            if pl:
                all_place_names.add(pl)
    place_phrases = {normalise(p).replace("'", "") for p in all_place_names}
    place_words = set()
    for ph in place_phrases:
        for w in ph.split(" "):
            if w not in DESCRIPTIVE and w not in LOWER_WORDS and len(w) > 2:
                place_words.add(w)
    namer = Namer(place_words, place_phrases)

    # ---- organisations ----------------------------------------------------
    org_rows = {}  # code -> dict

    def add_org(code, kind, name, status, close_date="", region="", icb="",
                places=(), variants=None, source=""):
        org_rows[code] = {
            "code": code, "kind": kind, "name": name, "status": status,
            "close_date": close_date, "region": region, "icb": icb,
            "places": set(places), "variants": set(variants or ()), "source": source,
        }

    for t in trusts:
        name = title_case(t["name"])
        add_org(t["ods_code"], "trust", name, t["status_as_of_2026_11_22"], t["close_date"],
                t["nhse_region_code"], t["icb_code"], trust_places[t["ods_code"]],
                namer.trust_variants(name), "etr")

    # Parents of 2020 sites that are not in etr (T-code NHS trusts and
    # independent providers).
    for s in sites2020:
        code = s["parent_code_2020"]
        if code and code not in org_rows:
            name = maybe_title(s["parent_name_2020"])
            nhs = "nhs" in tokens(name)
            add_org(code, "trust" if nhs else "independent", name, "unknown", "", "", "",
                    trust_places.get(code, ()),
                    namer.trust_variants(name) if nhs else {normalise(name)} - {""},
                    "nhs_choices_2020")

    for r in regions:
        code = r["NHS_ENGLAND_REGION_CODE"]
        name = r["NHS_ENGLAND_REGION_NAME"]
        n = normalise(name)
        add_org(code, "region", "NHS England " + name, "open", "", code, "", {name},
                {"nhs england " + n, "nhse " + n, "nhs england and nhs improvement " + n},
                "nhs_england_regions")

    for r in icbs:
        code = r["ods_code"]
        name = title_case(r["name"])
        core = re.sub(r"^nhs ", "", normalise(name))
        core = re.sub(r" integrated care board$", "", core)
        variants = {normalise(name)}
        for pre in ("", "nhs "):
            for suf in (" icb", " integrated care board", " integrated care system", " ics"):
                variants.add(pre + core + suf)
        add_org(code, "icb", name, "open", "", icb_region.get(code, ""), code,
                icb_places.get(code, ()), variants, "england_integrated_care_boards")

    for r in wales:
        code = r["ods_code"]
        name = title_case(r["health_board"])
        core = re.sub(r" (university|teaching)? ?health board$", "", normalise(name))
        variants = {normalise(name)}
        for suf in (" university health board", " health board", " uhb", " lhb",
                    " local health board", " teaching health board", " university lhb"):
            variants.add(core + suf)
        add_org(code, "welsh_board", name, "open", "", "", "", set(), variants,
                "wales_local_health_boards")

    for key, (code, name) in SCOTTISH_BOARDS.items():
        core = normalise(name)[4:]
        add_org(code, "scottish_board", name, "open", "", "", "",
                {title_case(core)} if len(core) > 4 else set(),
                {"nhs " + core, "nhs " + core + " health board"}, "uk_devolved_hospitals")
    for key, (code, name) in NI_TRUSTS.items():
        core = normalise(name).replace(" health and social care trust", "")
        add_org(code, "ni_trust", name, "open", "", "", "", set(),
                {normalise(name), core + " hsc trust", core + " hsct"}, "uk_devolved_hospitals")

    # ---- sites ------------------------------------------------------------
    site_rows = {}

    def site_places(city, county, postcode, addresses, name_norm):
        ps = set()
        for p in (city, county):
            pl = clean_place(p)
            if pl:
                ps.add(pl)
        for a in addresses:
            pl = locality(a, name_norm)
            if pl:
                ps.add(pl)
        oc = outward(postcode)
        if oc:
            ps.add(oc)
        return ps

    def display_name(raw):
        """"Nottingham University Hospitals NHS Trust - City Campus" -> "City
        Campus"; names without an owner part are kept as they are."""
        raw = maybe_title(raw)
        parts = [p.strip() for p in re.split(r"\s+-\s+", raw) if p.strip()]
        if len(parts) < 2:
            return raw
        own = [p for p in parts if not ({"nhs", "trust", "ltd", "limited", "cic"} & set(tokens(p)))]
        with_facility = [p for p in own if set(tokens(p)) & FACILITY]
        return (with_facility or own or parts)[0]

    for s in sites2020:
        code = s["site_code"]
        ch = choices_by_code.get(code, {})
        name = fix_text(s["site_name"])
        extra = []
        a1 = fix_text(ch.get("Address1", ""))
        if a1 and "hospital" in tokens(a1) and normalise(a1) != normalise(name) \
                and ({"nhs", "trust"} & set(tokens(name)) or "main site" in normalise(name)):
            # A site named after its trust ("Alder Hey Children's NHS
            # Foundation Trust") is named properly in its address.
            extra.append(a1)
        variants, places = namer.site_variants(name, tuple(extra))
        places |= site_places(s["city"], s["county"], s["postcode"],
                              [ch.get("Address1", ""), ch.get("Address2", ""), ch.get("Address3", "")],
                              normalise(name))
        site_rows[code] = {
            "code": code, "name": display_name(name), "parent": s["parent_code_2020"],
            "parent_2020": s["parent_code_2020"], "source": "nhs_choices_2020",
            "places": places, "variants": variants,
            "domain": registrable_domain(s["website"]),
        }

    for r in rcpch:
        code = fix_text(r["OrganisationCode"])
        parent = fix_text(r["ParentODSCode"])
        if not code or not parent:
            continue
        name = maybe_title(r["OrganisationName"])
        variants, places = namer.site_variants(name)
        places |= site_places(r["City"], r["County"], r["Postcode"],
                              [r["Address1"], r["Address2"], r["Address3"]], normalise(name))
        if code in site_rows:
            row = site_rows[code]
            row["places"] |= places
            row["variants"] |= variants
            if parent != row["parent"]:
                row["parent"] = parent  # about 2024: newer than the 2020 list
                row["source"] = "nhs_choices_2020+rcpch_2024"
            if not row["domain"]:
                row["domain"] = registrable_domain(r["Website"])
            continue
        site_rows[code] = {
            "code": code, "name": display_name(name), "parent": parent, "parent_2020": "",
            "source": "rcpch_2024", "places": places, "variants": variants,
            "domain": registrable_domain(r["Website"]),
        }

    # Scottish, Welsh and Northern Irish hospitals.
    devolved_rows = {}
    welsh_by_name = defaultdict(list)
    for code, row in site_rows.items():
        if code.startswith("7A"):
            welsh_by_name[normalise(row["name"])].append(code)
    slug_seen = Counter()
    for r in devolved:
        country = r["country"]
        src = r["source_list"]
        name = fix_text(r["location_name"])
        if not name:
            continue
        if country == "Scotland":
            if src == "NATIONAL":
                parent = fix_text(r["location_code"])
                add_org(parent, "scottish_national", name, "open", "", "", "", set(),
                        namer.site_variants(name)[0], "uk_devolved_hospitals")
            else:
                parent = SCOTTISH_BOARDS[src][0]
        elif country == "Wales":
            parent = WELSH_SOURCE_LISTS.get(src, "")
            if normalise(name) in welsh_by_name:
                continue  # already known from the RCPCH list with its ODS code
        else:
            parent = NI_TRUSTS[src][0]
        code = fix_text(r["location_code"])
        if not re.fullmatch(r"[A-Z0-9]{3,6}", code):
            code = ""
        address = fix_text(r["address"]) or (fix_text(r["location_code"]) if not code else "")
        parts = [p.strip() for p in address.split(",") if p.strip()]
        variants, places = namer.site_variants(name)
        for p in parts[1:] if len(parts) > 1 else parts:
            pl = clean_place(p)
            if pl and pl.lower() not in {"northern ireland", "united kingdom"} \
                    and not any(w in STREET_WORDS for w in tokens(pl)):
                places.add(pl.replace("County ", "").replace("Co. ", ""))
        oc = outward(r["postcode"])
        if oc:
            places.add(oc)
        key = code or (parent + ":" + re.sub(r"[^a-z0-9]+", "-", normalise(name)).strip("-"))
        slug_seen[key] += 1
        if slug_seen[key] > 1:
            key += "-" + str(slug_seen[key])
        devolved_rows[key] = {
            "code": key, "name": name, "parent": parent, "parent_2020": "",
            "source": "uk_devolved_hospitals", "places": places, "variants": variants,
            "domain": "",
        }

    # ---- domains ------------------------------------------------------------
    domain_parents = defaultdict(Counter)
    for row in site_rows.values():
        if row["domain"]:
            domain_parents[row["domain"]][row["parent"]] += 1
    domain_rows = []
    for dom in sorted(domain_parents):
        counts = domain_parents[dom]
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        domain_rows.append({"domain": dom, "code": ranked[0][0], "sites": ranked[0][1],
                            "others": ",".join(f"{c}:{n}" for c, n in ranked[1:])})

    # ---- successor evidence ----------------------------------------------
    # A 2020 site whose parent has closed and which the ~2024 list shows
    # (same code, or same postcode and name) under another parent.
    status = {t["ods_code"]: t["status_as_of_2026_11_22"] for t in trusts}
    rc_by_pc = defaultdict(list)
    for r in rcpch:
        rc_by_pc[fix_text(r["Postcode"]).upper()].append(r)
    evidence = set()
    for s in sites2020:
        old = s["parent_code_2020"]
        if status.get(old) != "closed":
            continue
        for r in rc_by_pc.get(fix_text(s["postcode"]).upper(), []):
            new = fix_text(r["ParentODSCode"])
            if not new or new == old:
                continue
            same_code = r["OrganisationCode"] == s["site_code"]
            n1 = set(tokens(s["site_name"])) - DESCRIPTIVE
            n2 = set(tokens(r["OrganisationName"])) - DESCRIPTIVE
            if same_code or (n1 & n2):
                evidence.add((old, new, s["site_code"], fix_text(s["site_name"]),
                              fix_text(r["OrganisationCode"]), maybe_title(r["OrganisationName"])))

    # ---- write ------------------------------------------------------------
    os.makedirs(args.out, exist_ok=True)
    inputs = sorted(os.listdir(orgs_dir))
    digest = hashlib.sha256()
    for name in inputs:
        with open(path(name), "rb") as f:
            digest.update(name.encode() + b"\0" + f.read())
    data_hash = digest.hexdigest()[:16]
    header = [
        "# GENERATED by classifiers/tools/build_gazetteer.py from ../shared/data/orgs "
        f"(input sha256 {data_hash}). Do not edit:",
        "# regenerate with `python3 classifiers/tools/build_gazetteer.py` from the repository root.",
        "# Hand-written corrections, aliases and successors live in config/orgs/*.tsv.",
    ]

    def join(values):
        return "|".join(sorted(v for v in values if v))

    def write(fname, what, columns, rows):
        with open(os.path.join(args.out, fname), "w", encoding="utf-8", newline="\n") as f:
            for h in header:
                f.write(h + "\n")
            f.write("# " + what + "\n")
            f.write("\t".join(columns) + "\n")
            for row in rows:
                vals = []
                for c in columns:
                    v = row.get(c, "")
                    if isinstance(v, (set, list, tuple)):
                        v = join(v)
                    v = str(v).replace("\t", " ").replace("\n", " ")
                    vals.append(v)
                f.write("\t".join(vals) + "\n")

    org_cols = ["code", "kind", "name", "status", "close_date", "region", "icb", "places",
                "variants", "source"]
    site_cols = ["code", "name", "parent", "parent_2020", "source", "places", "variants",
                 "domain"]

    def orgs_of(kinds):
        return [org_rows[c] for c in sorted(org_rows) if org_rows[c]["kind"] in kinds]

    write("trusts.tsv", "NHS trusts (ODS etr, mid-2026) and other parents of 2020 hospital sites.",
          org_cols, orgs_of({"trust", "independent"}))
    write("icbs.tsv", "Integrated care boards.", org_cols, orgs_of({"icb"}))
    write("regions.tsv", "NHS England regions.", org_cols, orgs_of({"region"}))
    write("wales.tsv", "Welsh local health boards.", org_cols, orgs_of({"welsh_board"}))
    write("devolved.tsv", "Scottish health boards (GSS codes), national boards and Northern "
          "Irish HSC trusts (local NI- codes).", org_cols,
          orgs_of({"scottish_board", "scottish_national", "ni_trust"}))
    write("sites.tsv", "Hospital sites in England and Wales: NHS website list (2020) and RCPCH "
          "paediatric units (~2024); parent is the newest parent seen.", site_cols,
          [site_rows[c] for c in sorted(site_rows)])
    write("devolved_sites.tsv", "Hospitals in Scotland, Wales and Northern Ireland "
          "(RCPCH Epilepsy12 list); rows without a code get a local key.", site_cols,
          [devolved_rows[c] for c in sorted(devolved_rows)])
    write("domains.tsv", "Web domains from the sites' Website column; code is the parent "
          "with most sites using the domain, others lists the rest.",
          ["domain", "code", "sites", "others"], domain_rows)
    write("successor_evidence.tsv", "2020 sites of closed parents found under another parent "
          "in the ~2024 list (same code, or same postcode and a shared name word).",
          ["old", "new", "site_2020", "name_2020", "site_2024", "name_2024"],
          [dict(zip(["old", "new", "site_2020", "name_2020", "site_2024", "name_2024"], e))
           for e in sorted(evidence)])
    with open(os.path.join(args.out, "VERSION"), "w", encoding="utf-8", newline="\n") as f:
        f.write(header[0] + "\n" + header[1] + "\n")
        f.write(f"data-{data_hash}\n")
    print(f"build_gazetteer: {len(org_rows)} organisations, {len(site_rows)} sites, "
          f"{len(devolved_rows)} devolved sites, {len(domain_rows)} domains -> {args.out}")


if __name__ == "__main__":
    main(sys.argv[1:])
