#!/usr/bin/python3
"""The programme demo: El Salvador's returnee figures of 2017-2018 through Enlace.

Against a server started by `./scripts/up.sh --detach`, plays the four parties
of the programme with a synthetic but plausible dataset:

  1. the ministry (mfa) pushes 7,216 returnee arrivals through one
     RecordArrivals stream: 3,988 to San Salvador (SV-SS) and 2,361 to La
     Libertad (SV-LI) in 2017, 559 and 308 in January-February 2018 -- the
     official figures quoted at the programme's launch (docs/programme.md);
  2. IOM opens reintegration cases for consenting returnees in Guazapa,
     Mejicanos and Quezaltepeque, records psychosocial sessions and
     specialized training (hours, completed or not), registers the programme's
     70 economic initiatives (status, jobs created, woman-led), disburses
     their seed capital (US$, one or two tranches each), and refers cases to
     UNHCR (protection) and UNDP (livelihoods);
  3. UNHCR and UNDP accept, decline and complete their referrals;
  4. 25 returnees without a case ask the ministry to erase who they are
     (ArrivalService.EraseReturnee);
  5. the programme report (ReportService.GetProgrammeReport) is printed and
     checked against the official figures, with the programme's outcomes:
     money disbursed (checked against the plan), trainings completed,
     initiatives by status, woman-led initiatives, youth reached.

The dataset is a pure function of --seed (random.Random(seed)): names, places,
dates, needs, consent and the ministry's record numbers (external_id). Running
the demo again is idempotent: arrivals come back ALREADY_RECORDED, existing
cases are found (OpenCase says ALREADY_EXISTS), and services, referrals,
answers and initiatives already there are not added again.

Exit status: 0 when the report reproduces every official figure and 70/70
initiatives; 1 when a figure does not match (named on the last line) or a call
failed; 2 for bad usage or missing certificates.
"""

import argparse
import bisect
import concurrent.futures
import csv
import datetime as dt
import os
import random
import sys
import threading
import time

import grpc

sys.dont_write_bytecode = True  # keep the source tree clean of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import enlace_client as ec  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
GAZETTEER = os.path.join(REPO, "data", "sv_gazetteer.csv")

EXAMPLE = """\
examples:
  ./scripts/up.sh --detach && ./scripts/demo.sh        # localhost:7443, var/pki
  ./scripts/demo.sh --seed 7                           # another dataset (use a fresh
                                                       # database: figures add up)
  ./scripts/demo.sh --addr localhost:7543 --pki /tmp/demo_clone/var/pki
"""

# Returnees without a case who ask to be erased (step 5): the report must
# still reproduce the official figures afterwards.
ERASED = 25

# The official figures (docs/programme.md):
# (department, first day, last day) -> returnees.
PERIODS = (("2017", "2017-01-01", "2017-12-31"), ("Jan-Feb 2018", "2018-01-01", "2018-02-28"))
OFFICIAL = {("SV-SS", "2017"): 3988, ("SV-LI", "2017"): 2361,
            ("SV-SS", "Jan-Feb 2018"): 559, ("SV-LI", "Jan-Feb 2018"): 308}
DEPARTMENTS = ("SV-SS", "SV-LI")
SITES = ("Guazapa", "Mejicanos", "Quezaltepeque")  # the programme sites (gazetteer: yes)
INITIATIVES_TARGET = 70
CASES_PER_SITE = {"Guazapa": 40, "Mejicanos": 55, "Quezaltepeque": 55}       # ~150 cases
INITIATIVES_PER_SITE = {"Guazapa": 18, "Mejicanos": 26, "Quezaltepeque": 26}  # = 70
PROGRAMME_START = dt.date(2018, 4, 23)  # services start after the launch (April 2018)
PROGRAMME_END = dt.date(2018, 12, 14)
SITE_WEIGHT = 1.6  # the programme sites get a bit more than their population share
WORKERS = 8
CALL_TIMEOUT = 60.0

# Approximate populations (thousands, 2007 census), used only as weights for
# the destination municipality. A gazetteer municipality missing here weighs 10.
POPULATION = {
    "San Salvador": 316, "Soyapango": 241, "Mejicanos": 140, "Apopa": 131,
    "Ciudad Delgado": 120, "Ilopango": 103, "Tonacatepeque": 90, "Cuscatancingo": 66,
    "San Martín": 72, "San Marcos": 63, "Panchimalco": 41, "Ayutuxtepeque": 34,
    "Nejapa": 30, "Santo Tomás": 26, "Guazapa": 23, "Aguilares": 21,
    "Santiago Texacuangos": 19, "El Paisnal": 14, "Rosario de Mora": 11,
    "Santa Tecla": 121, "Colón": 96, "San Juan Opico": 74, "Ciudad Arce": 60,
    "Quezaltepeque": 52, "La Libertad": 36, "Antiguo Cuscatlán": 33, "Zaragoza": 25,
    "San Pablo Tacachico": 20, "Huizúcar": 14, "Tepecoyo": 14, "Tamanique": 13,
    "San José Villanueva": 13, "Teotepeque": 13, "Sacacoyo": 11, "Jayaque": 11,
    "Comasagua": 11, "Chiltiupán": 10, "Talnique": 9, "Nuevo Cuscatlán": 7,
    "San Matías": 7, "Jicalapa": 5,
}

GIVEN_MALE = ["José", "Juan", "Carlos", "Luis", "Jorge", "Mario", "Miguel", "Francisco",
              "Manuel", "Óscar", "Roberto", "Ricardo", "Jonathan", "Kevin", "Edwin",
              "Wilfredo", "Nelson", "Walter", "Santos", "Salvador", "Julio", "René", "Rafael",
              "Jesús", "Douglas", "Marvin", "Henry", "Giovanni", "Ernesto", "Alexander",
              "Bryan", "Cristian", "William", "Rigoberto", "Mauricio", "Erick", "Josué",
              "Fredy", "Elmer", "Israel", "Daniel", "David", "Rodrigo", "Samuel", "Moisés",
              "José Luis", "Juan Carlos", "José Antonio", "Carlos Alberto", "Luis Alonso",
              "José Roberto", "Miguel Ángel", "Jorge Alberto", "Óscar Armando", "Mario Ernesto"]
GIVEN_FEMALE = ["María", "Ana", "Rosa", "Carmen", "Sandra", "Patricia", "Karla", "Yesenia",
                "Wendy", "Jessica", "Marta", "Gloria", "Reina", "Sonia", "Xiomara", "Brenda",
                "Katherine", "Roxana", "Evelyn", "Lorena", "Claudia", "Silvia", "Beatriz",
                "Cecilia", "Fátima", "Daysi", "Yanira", "Elsy", "Milagro", "Guadalupe",
                "Jennifer", "Cindy", "Gabriela", "Alejandra", "María José", "Ana Gabriela",
                "Rosa Elena", "María de los Ángeles", "Ana Silvia", "Karla Patricia",
                "Sandra Elizabeth", "Reina Isabel", "Gloria Estela", "María Teresa"]
# (family name, weight): the commonest Salvadoran surnames weigh most.
FAMILY = [("Hernández", 10), ("López", 7), ("Martínez", 7), ("García", 6), ("Rodríguez", 5),
          ("Flores", 5), ("Ramírez", 5), ("González", 5), ("Pérez", 4), ("Rivera", 4),
          ("Mejía", 3), ("Cruz", 3), ("Sánchez", 3), ("Reyes", 3), ("Romero", 3), ("Díaz", 2),
          ("Portillo", 2), ("Alvarado", 2), ("Aguilar", 2), ("Ramos", 2), ("Guevara", 2),
          ("Vásquez", 2), ("Orellana", 2), ("Escobar", 2), ("Castillo", 2), ("Morales", 2),
          ("Ayala", 2), ("Chávez", 2), ("Rivas", 2), ("Menjívar", 1), ("Henríquez", 1),
          ("Quintanilla", 1), ("Bonilla", 1), ("Argueta", 1), ("Molina", 1), ("Amaya", 1),
          ("Serrano", 1), ("Fuentes", 1), ("Zelaya", 1), ("Melgar", 1), ("Alfaro", 1),
          ("Deras", 1), ("Cañas", 1), ("Peña", 1), ("Núñez", 1), ("Umaña", 1),
          ("Interiano", 1), ("Landaverde", 1), ("Barahona", 1), ("Cornejo", 1)]
# Economic initiatives: (kind, sector) and a business name. ListInitiatives
# shows them to the agencies the returnee's consent names for REINTEGRATION.
INITIATIVE_KINDS = [("Pupusería", "food"), ("Panadería", "food"), ("Comedor", "food"),
                    ("Cafetería", "food"), ("Taller de costura", "garments"),
                    ("Sastrería", "garments"), ("Tienda", "retail"),
                    ("Abarrotes", "retail"), ("Taller mecánico", "services"),
                    ("Barbería", "services"), ("Salón de belleza", "services"),
                    ("Reparación de celulares", "services"), ("Lavandería", "services"),
                    ("Carpintería", "crafts"), ("Herrería", "crafts"),
                    ("Vivero", "agriculture"), ("Granja avícola", "agriculture"),
                    ("Hortalizas", "agriculture")]
INITIATIVE_NAMES = ["La Esperanza", "El Retorno", "Nuevo Amanecer", "San José", "La Bendición",
                    "Los Pinos", "El Progreso", "Santa Rosa", "La Ceiba", "El Buen Vecino",
                    "Las Palmas", "El Mirador", "Don Bosco", "La Fe", "El Roble", "Mi Tierra"]
TRAININGS = ["Panadería y repostería (INSAFORP, 60 h)", "Cocina salvadoreña (INSAFORP, 40 h)",
             "Corte y confección (INSAFORP, 80 h)", "Mecánica automotriz básica (80 h)",
             "Emprendimiento y finanzas básicas (24 h)", "Cosmetología (60 h)",
             "Electricidad residencial (60 h)", "Reparación de celulares (40 h)"]


def say(msg=""):
    print(msg, flush=True)


class DemoError(Exception):
    """Ends the demo with exit status 1."""


# --------------------------------------------------------------------- dataset

def load_gazetteer():
    """{department: [(municipality, is_site)]} for the two programme departments."""
    out = {d: [] for d in DEPARTMENTS}
    with open(GAZETTEER, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["department_code"] in out and row["municipality"]:
                out[row["department_code"]].append(
                    (row["municipality"], row["programme_site"].strip().lower() == "yes"))
    for dept, munis in out.items():
        if not munis:
            raise DemoError(f"{GAZETTEER}: no municipalities of {dept}")
    found_sites = {m for ms in out.values() for m, site in ms if site}
    if found_sites != set(SITES):
        raise DemoError(f"{GAZETTEER}: programme sites are {sorted(found_sites)}, "
                        f"expected {list(SITES)}")
    return out


def days_between(first, last):
    d0, d1 = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return [d0 + dt.timedelta(days=i) for i in range((d1 - d0).days + 1)]


def day_weight(day):
    # More returns in January (after the holidays), fewer flights at weekends
    # and on New Year's Day and Christmas.
    if (day.month, day.day) in ((1, 1), (12, 25)):
        return 0.1
    month = {1: 1.25, 2: 1.1, 3: 1.0, 4: 0.95, 5: 1.0, 6: 0.95, 7: 0.95, 8: 1.0, 9: 0.95,
             10: 1.0, 11: 1.05, 12: 0.9}[day.month]
    return month * (1.2, 1.2, 1.2, 1.2, 1.1, 0.5, 0.3)[day.weekday()]


def dui(rng):
    """A Salvadoran DUI number with its check digit: 01234567-8."""
    digits = [rng.randrange(10) for _ in range(8)]
    check = (10 - sum(d * (9 - i) for i, d in enumerate(digits)) % 10) % 10
    return "".join(map(str, digits)) + f"-{check}"


def years_before(day, years):
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def make_dataset(seed, pb, gazetteer):
    """The 7,216 arrivals, a pure function of seed: a list of dicts (plain data)."""
    rng = random.Random(seed)
    a_pb = pb.arrivals
    families = [f for f, _ in FAMILY]
    family_cum = list(_cumulative(w for _, w in FAMILY))
    out = []
    for period, first, last in PERIODS:
        days = days_between(first, last)
        weights = [day_weight(d) for d in days]
        for dept in DEPARTMENTS:
            munis = gazetteer[dept]
            muni_weights = [POPULATION.get(m, 10) * (SITE_WEIGHT if site else 1.0)
                            for m, site in munis]
            n = OFFICIAL[(dept, period)]
            dates = sorted(rng.choices(days, weights=weights, k=n))
            for i, day in enumerate(dates, 1):
                a = {"external_id": f"MRE-DEMO{seed}-{dept[3:]}-{day.year}-{i:05d}",
                     "arrival_date": day.isoformat(), "department_code": dept,
                     "municipality": rng.choices(munis, weights=muni_weights)[0][0]}
                # Who: mostly working-age men; some families with children.
                minor = rng.random() < 0.11
                if minor:
                    age = rng.randint(1, 17)
                    male = rng.random() < 0.55
                else:
                    age = rng.choices((rng.randint(18, 24), rng.randint(25, 34),
                                       rng.randint(35, 44), rng.randint(45, 66)),
                                      weights=(25, 38, 22, 15))[0]
                    male = rng.random() < 0.84
                sex = a_pb.SEX_MALE if male else a_pb.SEX_FEMALE
                if rng.random() < 0.002:
                    sex = a_pb.SEX_UNDISCLOSED
                birth = years_before(day, age) - dt.timedelta(days=rng.randrange(1, 365))
                paternal = families[bisect.bisect(family_cum, rng.random() * family_cum[-1])]
                maternal = paternal
                while maternal == paternal:
                    maternal = families[bisect.bisect(family_cum,
                                                      rng.random() * family_cum[-1])]
                a["person"] = {
                    "given_name": rng.choice(GIVEN_MALE if male else GIVEN_FEMALE),
                    "family_name": f"{paternal} {maternal}",
                    "birth_date": birth.isoformat(), "sex": sex,
                    "document_number": "" if age < 18 else dui(rng)}
                # How: deportation flights from the US, buses and flights from Mexico.
                r = rng.random()
                if r < 0.62:
                    origin, mode = "US", a_pb.ARRIVAL_MODE_AIR
                elif r < 0.955:
                    origin = "MX"
                    mode = (a_pb.ARRIVAL_MODE_AIR if rng.random() < 0.6
                            else a_pb.ARRIVAL_MODE_LAND)
                elif r < 0.997:
                    origin, mode = rng.choice((("GT", a_pb.ARRIVAL_MODE_LAND),
                                               ("CR", a_pb.ARRIVAL_MODE_AIR),
                                               ("PA", a_pb.ARRIVAL_MODE_AIR),
                                               ("CA", a_pb.ARRIVAL_MODE_AIR),
                                               ("ES", a_pb.ARRIVAL_MODE_AIR),
                                               ("BZ", a_pb.ARRIVAL_MODE_LAND)))
                else:
                    origin, mode = rng.choice(("MX", "GT")), a_pb.ARRIVAL_MODE_SEA
                a["origin_country"], a["mode"] = origin, mode
                # Needs (in enum order), then consent.
                needs = []
                for n_value, p in ((a_pb.NEED_PSYCHOSOCIAL_SUPPORT, 0.35),
                                   (a_pb.NEED_TRAINING, 0.30), (a_pb.NEED_SEED_CAPITAL, 0.20),
                                   (a_pb.NEED_PROTECTION, 0.10), (a_pb.NEED_HEALTH, 0.15),
                                   (a_pb.NEED_LEGAL_ASSISTANCE, 0.08),
                                   (a_pb.NEED_EMPLOYMENT, 0.5 if age >= 18 else 0.1 if age >= 15 else 0)):
                    if rng.random() < p:
                        needs.append(n_value)
                a["needs"] = needs
                a["consent"] = make_consent(rng, a_pb, day, needs)
                if minor and a["consent"]["agencies"]:
                    # A child's consent is given by a guardian: here the mother,
                    # named without a random draw so that the rest of the data
                    # (and so the figures) stay as they were.
                    a["consent"]["guardian"] = {
                        "name": f"{GIVEN_FEMALE[i % len(GIVEN_FEMALE)]} {maternal}",
                        "relationship": a_pb.GUARDIAN_RELATIONSHIP_PARENT}
                out.append(a)
    return out


def _cumulative(weights):
    total = 0
    for w in weights:
        total += w
        yield total


def make_consent(rng, pb, day, needs):
    if rng.random() < 0.10:
        return {"agencies": [], "purposes": [], "given_at": None}  # shared with no one
    agencies = ["iom"] if rng.random() < 0.96 else []
    if rng.random() < 0.55:
        agencies.append("undp")
    if rng.random() < (0.7 if pb.NEED_PROTECTION in needs else 0.15):
        agencies.append("unhcr")
    if not agencies:
        agencies = ["undp"]
    purposes = [pb.PURPOSE_REINTEGRATION] if rng.random() < 0.95 else []
    if "unhcr" in agencies and rng.random() < 0.85:
        purposes.append(pb.PURPOSE_PROTECTION)
    if rng.random() < 0.6 or not purposes:
        purposes.append(pb.PURPOSE_STATISTICS)
    # At the reception centre, 08:00-17:59 local time (UTC-6).
    at = dt.datetime(day.year, day.month, day.day, 14, 0, tzinfo=dt.timezone.utc)
    given = int(at.timestamp()) + rng.randrange(10 * 3600)
    return {"agencies": agencies, "purposes": purposes, "given_at": given}


def to_arrival(pb, a):
    consent = pb.Consent(agencies=a["consent"]["agencies"], purposes=a["consent"]["purposes"])
    if a["consent"]["given_at"] is not None:
        consent.given_at.seconds = a["consent"]["given_at"]
    if "guardian" in a["consent"]:
        consent.guardian.CopyFrom(pb.Guardian(**a["consent"]["guardian"]))
    return pb.Arrival(
        external_id=a["external_id"], arrival_date=a["arrival_date"], mode=a["mode"],
        origin_country=a["origin_country"], person=pb.Person(**a["person"]),
        destination=pb.Destination(department_code=a["department_code"],
                                   municipality=a["municipality"]),
        needs=a["needs"], consent=consent)


# ------------------------------------------------------------------ the calls

PARTIES = ("mfa", "iom", "unhcr", "undp")


def check_pki(pki):
    """None, or what is missing in the PKI directory."""
    files = ["ca.crt"] + [f"{n}.{ext}" for n in PARTIES for ext in ("crt", "key")]
    missing = [f for f in files if not os.path.isfile(os.path.join(pki, f))]
    if missing:
        return (f"{pki}: missing {', '.join(missing)} (--pki: the directory of ca.crt and "
                f"the mfa, iom, unhcr, undp certificates; scripts/up.sh makes var/pki)")
    return None


class Parties:
    """One channel and the stubs of each party."""

    def __init__(self, api, addr, pki, actor):
        self.api = api
        self.channels = {}
        for name in PARTIES:
            self.channels[name] = ec.pki_channel(addr, pki, name, actor=actor)
        try:
            grpc.channel_ready_future(self.channels["mfa"]).result(timeout=15)
        except grpc.FutureTimeoutError:
            raise DemoError(f"cannot connect to {addr} (is the server up? "
                            f"./scripts/up.sh --detach; another address: --addr)") from None

    def arrivals(self, name):
        return self.api.arrivals_grpc.ArrivalServiceStub(self.channels[name])

    def cases(self, name):
        return self.api.cases_grpc.CaseServiceStub(self.channels[name])

    def referrals(self, name):
        return self.api.referrals_grpc.ReferralServiceStub(self.channels[name])

    def reports(self, name):
        return self.api.reports_grpc.ReportServiceStub(self.channels[name])

    def close(self):
        for ch in self.channels.values():
            ch.close()


def call(method, request, what, read=False):
    """A unary call. Reads are retried a few times on UNAVAILABLE/RESOURCE_EXHAUSTED;
    writes are not (a lost answer could mean it was done): the demo stops, and
    running it again completes what is missing."""
    delay = 0.2
    for attempt in range(6):
        try:
            return method(request, timeout=CALL_TIMEOUT)
        except grpc.RpcError as e:
            if read and attempt < 5 and e.code() in (grpc.StatusCode.UNAVAILABLE,
                                                     grpc.StatusCode.RESOURCE_EXHAUSTED):
                time.sleep(delay)
                delay *= 2
                continue
            e.what = what
            raise


class Counter(dict):
    """Counts shared by worker threads."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def add(self, key, n=1):
        with self.lock:
            self[key] = self.get(key, 0) + n

    def __missing__(self, key):
        return 0


def parallel(fn, items):
    """fn(item) for each item on WORKERS threads; results in order; the first error wins."""
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(fn, items))


# --------------------------------------------------------------- 1. arrivals

def push_arrivals(parties, dataset):
    pb = parties.api.arrivals
    say(f"== 1. mfa records {len(dataset):,} arrivals through one RecordArrivals stream")
    started = time.monotonic()
    requests = (pb.RecordArrivalsRequest(arrival=to_arrival(pb, a)) for a in dataset)
    try:
        responses = list(parties.arrivals("mfa").RecordArrivals(requests, timeout=600))
    except grpc.RpcError as e:
        raise DemoError(f"RecordArrivals: {ec.describe(e)}") from None
    elapsed = time.monotonic() - started
    outcomes, ids, rejected = {}, {}, []
    for r in responses:
        name = ec.enum_name(pb.Outcome, r.outcome, "OUTCOME_")
        outcomes[name] = outcomes.get(name, 0) + 1
        if r.outcome in (pb.OUTCOME_CREATED, pb.OUTCOME_ALREADY_RECORDED):
            ids[r.external_id] = r.arrival_id
        else:
            rejected.append(r)
    say(f"   {len(responses):,} answers in {elapsed:.1f} s ({len(responses) / elapsed:,.0f}/s): "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items())))
    for r in rejected[:5]:
        say(f"   rejected {r.external_id}: {r.error.field}: {r.error.message}")
    missing = {a["external_id"] for a in dataset} - set(ids)
    if missing or len(responses) != len(dataset):
        hint = ""
        if any(r.error.code == grpc.StatusCode.ALREADY_EXISTS.value[0] for r in rejected):
            hint = ("; ALREADY_EXISTS: the database holds other content under these record "
                    "numbers (from another version of this demo?): use another --seed or a "
                    "fresh database")
        raise DemoError(f"{len(missing):,} of {len(dataset):,} arrivals not CREATED or "
                        f"ALREADY_RECORDED (e.g. {', '.join(sorted(missing)[:3])}){hint}")
    return ids, outcomes


# ------------------------------------------------------------------- 2. plan

def plan_cases(seed, api, dataset):
    """Which returnees IOM serves and what it does for each: a pure function of seed."""
    a_pb = api.arrivals
    rng = random.Random(f"{seed}/cases")
    plans = []
    for site in SITES:
        eligible = [a for a in dataset if a["municipality"] == site
                    and "iom" in a["consent"]["agencies"]
                    and a_pb.PURPOSE_REINTEGRATION in a["consent"]["purposes"]]
        chosen = rng.sample(eligible, min(CASES_PER_SITE[site], len(eligible)))
        # Initiatives go to those who asked for seed capital or training first.
        chosen.sort(key=lambda a: (a_pb.NEED_SEED_CAPITAL not in a["needs"],
                                   a_pb.NEED_TRAINING not in a["needs"], a["external_id"]))
        for k, a in enumerate(chosen):
            plans.append(plan_case(seed, api, a, initiative=k < INITIATIVES_PER_SITE[site]))
    if sum(p["initiative"] is not None for p in plans) != INITIATIVES_TARGET:
        raise DemoError("not enough eligible returnees in the programme sites for "
                        f"{INITIATIVES_TARGET} initiatives (seed {seed})")
    return plans


def plan_case(seed, api, a, initiative):
    a_pb = api.arrivals
    rng = random.Random(f"{seed}/case/{a['external_id']}")
    arrived = dt.date.fromisoformat(a["arrival_date"])
    day = max(arrived + dt.timedelta(days=14), PROGRAMME_START) + \
        dt.timedelta(days=rng.randrange(0, 90))
    services = []  # (service, delivered_on, notes, outcome fields)
    wants_psy = a_pb.NEED_PSYCHOSOCIAL_SUPPORT in a["needs"]
    sessions = rng.randint(2, 5) if wants_psy else (rng.randint(1, 2) if rng.random() < 0.4 else 0)
    for s in range(sessions):
        d = day + dt.timedelta(days=14 * s)
        services.append((a_pb.NEED_PSYCHOSOCIAL_SUPPORT, d,
                         f"psychosocial session {s + 1} of {sessions}", {}))
    livelihood = {a_pb.NEED_TRAINING, a_pb.NEED_SEED_CAPITAL,
                  a_pb.NEED_EMPLOYMENT} & set(a["needs"])
    train_day = day + dt.timedelta(days=rng.randrange(7, 45))
    # Outcomes come from a generator of their own, so that the rest of the
    # plan (and the referrals) stays what it was before outcomes existed.
    out = random.Random(f"{seed}/outcome/{a['external_id']}")
    if initiative or rng.random() < (0.6 if livelihood else 0.2):
        services.append((a_pb.NEED_TRAINING, train_day, "specialized training: " +
                         rng.choice(TRAININGS),
                         {"training_hours": out.choice((24, 32, 40, 60, 80)),
                          "training_completed": out.random() < 0.8}))
    init = None
    if initiative:
        capital_day = train_day + dt.timedelta(days=rng.randrange(20, 60))
        amount = rng.choice((300, 400, 500, 600, 750, 800, 1000))
        kind, sector = rng.choice(INITIATIVE_KINDS)
        status = out.choices(("ACTIVE", "PLANNED", "CLOSED"), weights=(70, 15, 15))[0]
        # Seed capital: one disbursement, sometimes a second tranche later.
        disbursements = [(min(capital_day, PROGRAMME_END).isoformat(), amount * 100,
                          f"seed capital: USD {amount} in equipment and stock")]
        if out.random() < 0.3:
            second = min(capital_day + dt.timedelta(days=out.randrange(30, 90)), PROGRAMME_END)
            extra = out.choice((150, 200, 250))
            disbursements.append((second.isoformat(), extra * 100,
                                  f"seed capital, second tranche: USD {extra}"))
        init = {"name": f"{kind} {rng.choice(INITIATIVE_NAMES)}", "sector": sector,
                "municipality": a["municipality"], "status": status,
                "jobs_created": out.randint(1, 4) if status == "ACTIVE" else 0,
                "woman_led": a["person"]["sex"] == a_pb.SEX_FEMALE or out.random() < 0.1,
                "disbursements": disbursements}
    services = [(s, min(d, PROGRAMME_END).isoformat(), n, *rest) for s, d, n, *rest in services]
    c_pb = api.cases
    status = c_pb.CASE_STATUS_IN_PROGRESS if services else c_pb.CASE_STATUS_OPEN
    if init and rng.random() < 0.35:
        status = c_pb.CASE_STATUS_CLOSED  # the initiative runs on its own
    notes = ""
    if sessions:
        notes = rng.choice(("grief and loss after deportation; coping strategies",
                            "anxiety, sleep problems; family reunification stress",
                            "stigma in the community; rebuilding support network",
                            "separation from children still in the US"))
    # Referrals (only to agencies the consent names): protection to UNHCR,
    # livelihoods to UNDP.
    referrals = []
    agencies = a["consent"]["agencies"]
    if "unhcr" in agencies and (a_pb.NEED_PROTECTION in a["needs"] or rng.random() < 0.1):
        referrals.append(("unhcr", a_pb.NEED_PROTECTION,
                          "risk in the community of return; protection assessment requested",
                          _answer(rng, accept=0.7, decline=0.15, complete=0.6,
                                  reasons=("no protection risk found at assessment",
                                           "returnee could not be reached after three attempts"),
                                  outcomes=("relocation support and legal orientation given",
                                            "protection plan agreed with the family"))))
    if "undp" in agencies and livelihood and rng.random() < 0.45:
        service = a_pb.NEED_EMPLOYMENT if a_pb.NEED_EMPLOYMENT in a["needs"] else a_pb.NEED_TRAINING
        referrals.append(("undp", service, "livelihoods: job placement or vocational programme",
                          _answer(rng, accept=0.75, decline=0.1, complete=0.6,
                                  reasons=("no places left in the municipality this quarter",),
                                  outcomes=("placed in a job through the municipal employment "
                                            "office", "completed the vocational programme"))))
    return {"arrival": a, "summary": f"reintegration, {a['municipality']}",
            "services": services, "status": status, "notes": notes, "initiative": init,
            "referrals": referrals}


def _answer(rng, accept, decline, complete, reasons, outcomes):
    """What the receiver will do: ('accept'|'decline'|'pending', text, complete?,
    the day it delivers the service)."""
    r = rng.random()
    day = min(PROGRAMME_START + dt.timedelta(days=rng.randrange(45, 220)), PROGRAMME_END)
    if r < accept:
        done = rng.random() < complete
        return ("accept", rng.choice(outcomes) if done else "", done, day.isoformat())
    if r < accept + decline:
        return ("decline", rng.choice(reasons), False, "")
    return ("pending", "", False, "")


# ------------------------------------------------------------------- 3. cases

def run_cases(parties, plans, arrival_ids):
    api = parties.api
    c_pb = api.cases
    iom = parties.cases("iom")
    say(f"== 2. iom opens {len(plans)} cases in {', '.join(SITES)} and records services")
    existing = {c.arrival_id: c for c in ec.paged(iom.ListCases, c_pb.ListCasesRequest(),
                                                  "cases")}
    counts = Counter()

    def one(plan):
        arrival_id = arrival_ids[plan["arrival"]["external_id"]]
        case = existing.get(arrival_id)
        if case is None:
            try:
                case = call(iom.OpenCase, c_pb.OpenCaseRequest(
                    arrival_id=arrival_id, summary=plan["summary"]), "OpenCase")
                counts.add("opened")
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
                case = find_case(iom, c_pb, arrival_id)
                counts.add("found")
        else:
            counts.add("found")
        case = call(iom.GetCase, c_pb.GetCaseRequest(case_id=case.case_id), "GetCase", read=True)
        there = {(s.service, s.delivered_on, s.notes) for s in case.services}
        for service, day, notes, outcome in plan["services"]:
            if (service, day, notes) in there:
                counts.add("services_there")
                continue
            call(iom.RecordService, c_pb.RecordServiceRequest(
                case_id=case.case_id, service=service, delivered_on=day, notes=notes,
                **outcome), "RecordService")
            counts.add("services")
        if case.status != plan["status"] or case.psychosocial_notes != plan["notes"]:
            update = c_pb.Case(case_id=case.case_id, status=plan["status"],
                               summary=case.summary, psychosocial_notes=plan["notes"])
            case = call(iom.UpdateCase, c_pb.UpdateCaseRequest(case=update, etag=case.etag),
                        "UpdateCase")
            counts.add("updated")
        return case.case_id

    case_ids = parallel(one, plans)
    say(f"   cases: {counts['opened']} opened, {counts['found']} already open; services: "
        f"{counts['services']} recorded, {counts['services_there']} already recorded; "
        f"{counts['updated']} cases moved to their status")
    return case_ids


def find_case(iom, c_pb, arrival_id):
    for c in ec.paged(iom.ListCases, c_pb.ListCasesRequest(), "cases"):
        if c.arrival_id == arrival_id:
            return c
    raise DemoError(f"OpenCase said ALREADY_EXISTS for arrival {arrival_id}, "
                    "but ListCases does not show the case")


def run_initiatives(parties, plans, case_ids):
    """Registers the initiatives not there yet (with their status, jobs and
    woman-led), then records each one's seed capital as SEED_CAPITAL services
    disbursed to it (those already on the case are not added again)."""
    c_pb = parties.api.cases
    a_pb = parties.api.arrivals
    iom = parties.cases("iom")
    first = call(iom.ListInitiatives, c_pb.ListInitiativesRequest(page_size=1),
                 "ListInitiatives", read=True)
    missing = INITIATIVES_TARGET - first.total_count
    say(f"== 3. iom registers economic initiatives: {first.total_count} registered, "
        f"target {first.target}")
    listed = {(i.name, i.municipality, i.case_id): i for i in
              ec.paged(iom.ListInitiatives, c_pb.ListInitiativesRequest(), "initiatives")}
    planned = [(p["initiative"], cid) for p, cid in zip(plans, case_ids) if p["initiative"]]
    todo = [(init, cid) for init, cid in planned
            if (init["name"], init["municipality"], cid) not in listed][:max(missing, 0)]

    def one(item):
        init, case_id = item
        return call(iom.RegisterInitiative, c_pb.RegisterInitiativeRequest(
            case_id=case_id, name=init["name"], sector=init["sector"],
            municipality=init["municipality"],
            status=c_pb.InitiativeStatus.Value("INITIATIVE_STATUS_" + init["status"]),
            jobs_created=init["jobs_created"], woman_led=init["woman_led"]),
            "RegisterInitiative")

    for initiative in parallel(one, todo):
        listed[(initiative.name, initiative.municipality, initiative.case_id)] = initiative
    by_site = {}
    for init, _ in todo:
        by_site[init["municipality"]] = by_site.get(init["municipality"], 0) + 1
    say(f"   added {len(todo)}" + (": " if todo else "") +
        ", ".join(f"{s} {n}" for s, n in sorted(by_site.items())))

    def disburse(item):
        init, case_id = item
        initiative = listed.get((init["name"], init["municipality"], case_id))
        if initiative is None:
            return 0, 0
        case = call(iom.GetCase, c_pb.GetCaseRequest(case_id=case_id), "GetCase", read=True)
        there = {(s.service, s.delivered_on, s.notes) for s in case.services}
        made = cents_made = 0
        for day, cents, notes in init["disbursements"]:
            if (a_pb.NEED_SEED_CAPITAL, day, notes) in there:
                continue
            call(iom.RecordService, c_pb.RecordServiceRequest(
                case_id=case_id, service=a_pb.NEED_SEED_CAPITAL, delivered_on=day, notes=notes,
                amount_usd_cents=cents, initiative_id=initiative.initiative_id),
                "RecordService")
            made += 1
            cents_made += cents
        return made, cents_made

    done = parallel(disburse, planned)
    say(f"   seed capital: {sum(n for n, _ in done)} disbursements recorded now, "
        f"US$ {sum(c for _, c in done) / 100:,.2f}; planned in all: "
        f"US$ {planned_seed_capital_cents(plans) / 100:,.2f}")


def planned_seed_capital_cents(plans):
    return sum(cents for p in plans if p["initiative"]
               for _, cents, _ in p["initiative"]["disbursements"])


# -------------------------------------------------------------- 4. referrals

def run_referrals(parties, plans, case_ids):
    r_pb = parties.api.referrals
    a_pb = parties.api.arrivals
    iom = parties.referrals("iom")
    say("== 4. iom refers cases: protection to unhcr, livelihoods to undp")
    sent = {(r.case_id, r.to_agency, r.service): r for r in ec.paged(
        iom.ListReferrals, r_pb.ListReferralsRequest(box=r_pb.BOX_OUTBOX), "referrals")}
    wanted = [(cid, to, service, reason, answer) for p, cid in zip(plans, case_ids)
              for to, service, reason, answer in p["referrals"]]

    def create(item):
        cid, to, service, reason, _ = item
        if (cid, to, service) in sent:
            return sent[(cid, to, service)], False
        return call(iom.CreateReferral, r_pb.CreateReferralRequest(
            case_id=cid, to_agency=to, service=service, reason=reason), "CreateReferral"), True

    made = parallel(create, wanted)
    say(f"   referrals: {sum(new for _, new in made)} created, "
        f"{sum(not new for _, new in made)} already sent")

    # The receivers answer (their own inbox, with their own certificate).
    plan_of = {ref.referral_id: item[4] for (ref, _), item in zip(made, wanted)}
    for agency in ("unhcr", "undp"):
        stub = parties.referrals(agency)
        cases = parties.cases(agency)
        inbox = [r for r in ec.paged(stub.ListReferrals, r_pb.ListReferralsRequest(
            box=r_pb.BOX_INBOX), "referrals") if r.referral_id in plan_of]
        tally = {}

        def answer(ref):
            action, text, complete, day = plan_of[ref.referral_id]
            done = []
            if ref.status == r_pb.REFERRAL_STATUS_PENDING and action == "accept":
                ref = call(stub.AcceptReferral, r_pb.AcceptReferralRequest(
                    referral_id=ref.referral_id, etag=ref.etag), "AcceptReferral")
                done.append("accepted")
            elif ref.status == r_pb.REFERRAL_STATUS_PENDING and action == "decline":
                ref = call(stub.DeclineReferral, r_pb.DeclineReferralRequest(
                    referral_id=ref.referral_id, reason=text, etag=ref.etag), "DeclineReferral")
                done.append("declined")
            if ref.status == r_pb.REFERRAL_STATUS_ACCEPTED and complete:
                # The receiver records the service it delivered, then completes.
                case = call(cases.GetCase, parties.api.cases.GetCaseRequest(
                    case_id=ref.case_id), "GetCase", read=True)
                if not any(s.service == ref.service and s.recorded_by == agency
                           for s in case.services):
                    # A training has its hours and completion (the
                    # receiver completes only what was completed).
                    outcome = {}
                    if ref.service == parties.api.arrivals.NEED_TRAINING:
                        outcome = {"training_hours": 120, "training_completed": True}
                    call(cases.RecordService, parties.api.cases.RecordServiceRequest(
                        case_id=ref.case_id, service=ref.service, delivered_on=day,
                        notes=text, **outcome), "RecordService")
                ref = call(stub.CompleteReferral, r_pb.CompleteReferralRequest(
                    referral_id=ref.referral_id, outcome=text, etag=ref.etag),
                    "CompleteReferral")
                done.append("completed")
            if not done and ref.status == r_pb.REFERRAL_STATUS_PENDING:
                return ["left pending"]
            return done or ["already answered"]

        for done in parallel(answer, inbox):
            for d in done:
                tally[d] = tally.get(d, 0) + 1
        services = sorted({ec.enum_name(a_pb.Need, r.service, "NEED_") for r in inbox})
        say(f"   {agency} ({', '.join(services) or 'none'}): {len(inbox)} in its inbox; "
            + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))


# ----------------------------------------------------------------- 5. report

# ------------------------------------------------------------------ 5. erasure

def erase_some(parties, seed, dataset, plans, arrival_ids):
    """ERASED returnees without a case (chosen by seed) ask the ministry to erase
    them (EraseReturnee): who they were goes, what the programme counts stays,
    and the report that follows still reproduces every official figure.
    Idempotent: a rerun finds them erased already."""
    pb = parties.api.arrivals
    served = {p["arrival"]["external_id"] for p in plans}
    rng = random.Random(f"{seed}/erasure")
    chosen = rng.sample(sorted(a["external_id"] for a in dataset
                               if a["external_id"] not in served), ERASED)
    say(f"== 5. {len(chosen)} returnees ask the ministry to erase who they are "
        "(ArrivalService.EraseReturnee)")
    counts = Counter()

    def erase(external_id):
        request = pb.EraseReturneeRequest(arrival_id=arrival_ids[external_id],
                                          reason="demo: the returnee asked for erasure")
        # Idempotent: safe to retry like a read.
        answer = call(parties.arrivals("mfa").EraseReturnee, request, "EraseReturnee", read=True)
        counts.add("erased before" if answer.already_erased else "erased")

    parallel(erase, chosen)
    say("   " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def cell(c):
    return "suppressed" if c.suppressed else f"{c.count:,}"


def amount(c):
    return "suppressed" if c.suppressed else f"{c.amount:,}"


def money(c):
    return "suppressed" if c.suppressed else f"{c.amount / 100:,.2f}"


def print_period_report(parties, label, first, last):
    rep_pb = parties.api.reports
    report = call(parties.reports("mfa").GetProgrammeReport, rep_pb.GetProgrammeReportRequest(
        period_from=first, period_to=last), "GetProgrammeReport", read=True)
    say(f"\n   Returnees {label} ({first} .. {last}), as mfa (the records' owner)")
    say(f"   {'department':<28}{'returnees':>10}{'official':>10}")
    got = {}
    order = {d: i for i, d in enumerate(DEPARTMENTS)}
    for d in sorted(report.returnees_by_department,
                    key=lambda d: (order.get(d.department_code, len(order)), d.department_code)):
        official = OFFICIAL.get((d.department_code, label))
        got[d.department_code] = d.returnees
        say(f"   {d.department_code + ' ' + d.department_name:<28}{cell(d.returnees):>10}"
            f"{'' if official is None else format(official, ','):>10}")
    months = sorted({m.month for m in report.returnees_by_month})
    by = {(m.month, m.department_code): m.returnees for m in report.returnees_by_month}
    say(f"   {'by month':<12}" + "".join(f"{d:>9}" for d in DEPARTMENTS))
    for month in months:
        say(f"   {month:<12}" + "".join(
            f"{cell(by[(month, d)]) if (month, d) in by else '0':>9}" for d in DEPARTMENTS))
    return got


def print_activity(parties):
    """The programme's activity to date, as iom (owner of the cases, sender of the
    referrals): cases, referrals, services and initiatives are counted by when they
    were created or delivered, i.e. since the programme's launch in April 2018."""
    api = parties.api
    report = call(parties.reports("iom").GetProgrammeReport,
                  api.reports.GetProgrammeReportRequest(), "GetProgrammeReport", read=True)
    say("\n   Programme activity to date (open period), as iom (the owner of these records);")
    say("   cases, referrals and initiatives count when they were recorded (today), services")
    say("   when they were delivered (from April 2018): none fall in the periods above.")
    say("   cases by status:      " + ", ".join(
        f"{ec.enum_name(api.cases.CaseStatus, c.status, 'CASE_STATUS_')} {cell(c.cases)}"
        for c in report.cases_by_status))
    say("   referrals:")
    for r in report.referrals:
        say(f"     {r.from_agency} -> {r.to_agency:<6} "
            f"{ec.enum_name(api.referrals.ReferralStatus, r.status, 'REFERRAL_STATUS_'):<10}"
            f"{cell(r.referrals):>6}")
    say("   services delivered:   " + ", ".join(
        f"{ec.enum_name(api.arrivals.Need, s.service, 'NEED_')} {cell(s.services)}"
        for s in report.services_by_type))
    say(f"   returnees served:     {cell(report.returnees_served)}, of whom women "
        f"{cell(report.women_served)} ({report.women_share:.0%}; SDG 5.5)")
    say(f"   initiatives: {cell(report.initiatives)} / target {report.initiatives_target}")
    say("   outcomes:")
    say(f"     seed capital disbursed:   US$ {money(report.seed_capital_usd_cents)} in "
        f"{cell(report.seed_capital_disbursements)} disbursements")
    say(f"     trainings completed:      {cell(report.training_completed)}")
    say("     initiatives by status:    " + ", ".join(
        f"{ec.enum_name(api.cases.InitiativeStatus, i.status, 'INITIATIVE_STATUS_')} "
        f"{cell(i.initiatives)}" for i in report.initiatives_by_status))
    say(f"     woman-led initiatives:    {cell(report.initiatives_woman_led)}; "
        f"jobs created {amount(report.jobs_created)}")
    say(f"     youth reached (15-29):    {cell(report.youth_served)} of "
        f"{cell(report.returnees_served)} returnees served")
    say("     targets:                  " + ", ".join(
        f"{t.indicator} {cell(t.achieved)}/{t.target:,}" for t in report.targets))
    return report


# ------------------------------------------------------------------------ main

def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="demo.sh", description=__doc__,
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=2018,
                        help="the dataset's seed (default 2018); the same seed gives the "
                             "same records, so a rerun adds nothing")
    parser.add_argument("--addr", default=os.environ.get("ENLACE_ADDR") or "localhost:7443",
                        help="server address (default: $ENLACE_ADDR or localhost:7443)")
    parser.add_argument("--pki", default=os.path.join(REPO, "var", "pki"),
                        help="directory with ca.crt and mfa/iom/unhcr/undp .crt/.key "
                             "(default: the repository's var/pki, made by up.sh)")
    parser.add_argument("--actor", default=os.environ.get("ENLACE_ACTOR") or "demo-operator",
                        help="the staff identifier every call names (enlace-actor), which "
                             "the server's policy requires (default: $ENLACE_ACTOR or "
                             "demo-operator)")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error("--seed: a non-negative integer")

    problem = check_pki(args.pki)
    if problem:
        print(f"demo: {problem}", file=sys.stderr)
        return 2
    try:
        api = ec.load_stubs()
    except ec.SetupError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2
    started = time.monotonic()
    parties = None
    try:
        gazetteer = load_gazetteer()
        dataset = make_dataset(args.seed, api, gazetteer)
        say(f"demo: seed {args.seed}: {len(dataset):,} synthetic returnees "
            f"({sum(1 for a in dataset if a['municipality'] in SITES):,} in the programme "
            f"sites), server {args.addr}")
        parties = Parties(api, args.addr, args.pki, args.actor)
        arrival_ids, _ = push_arrivals(parties, dataset)
        plans = plan_cases(args.seed, api, dataset)
        case_ids = run_cases(parties, plans, arrival_ids)
        run_initiatives(parties, plans, case_ids)
        run_referrals(parties, plans, case_ids)

        erase_some(parties, args.seed, dataset, plans, arrival_ids)

        say("== 6. the programme report (ReportService.GetProgrammeReport)")
        got = {}
        for label, first, last in PERIODS:
            for dept, c in print_period_report(parties, label, first, last).items():
                got[(dept, label)] = c
        activity = print_activity(parties)
        # iom, which registered them all, sees every one of them.
        total_initiatives = call(parties.cases("iom").ListInitiatives,
                                 api.cases.ListInitiativesRequest(page_size=1),
                                 "ListInitiatives", read=True).total_count
    except ec.SetupError as e:  # a PEM file that holds no certificate or key
        print(f"demo: {e}", file=sys.stderr)
        return 2
    except DemoError as e:
        say(f"demo: FAILED: {e}")
        return 1
    except grpc.RpcError as e:
        say(f"demo: FAILED: {getattr(e, 'what', 'a call')}: {ec.describe(e)}")
        return 1
    finally:
        if parties is not None:
            parties.close()

    problems = []
    for (dept, label), want in OFFICIAL.items():
        c = got.get((dept, label))
        have = 0 if c is None else "suppressed" if c.suppressed else c.count
        if have != want:
            extra = ""
            if isinstance(have, int) and have > want:
                extra = (f" (the database holds {have - want:,} arrival(s) there besides "
                         f"this demo's: run it on a fresh database)")
            problems.append(f"{dept} {label}: report {have}, official {want}{extra}")
    want_cents = planned_seed_capital_cents(plans)
    have_cents = (None if activity.seed_capital_usd_cents.suppressed
                  else activity.seed_capital_usd_cents.amount)
    if have_cents != want_cents:
        problems.append(f"seed capital: report {have_cents} cents, planned {want_cents}")
    init = None if activity.initiatives.suppressed else activity.initiatives.count
    if init != INITIATIVES_TARGET or activity.initiatives_target != INITIATIVES_TARGET \
            or total_initiatives != INITIATIVES_TARGET:
        problems.append(f"initiatives: report {init} / target {activity.initiatives_target}, "
                        f"ListInitiatives total {total_initiatives}; expected "
                        f"{INITIATIVES_TARGET} / {INITIATIVES_TARGET}")
    say(f"\n   ({time.monotonic() - started:.1f} s)")
    if problems:
        say("demo: official figures NOT reproduced: " + "; ".join(problems))
        return 1
    say("demo: official figures reproduced: " + ", ".join(
        f"{dept} {label}={got[(dept, label)].count}"
        for label, _, _ in PERIODS for dept in DEPARTMENTS) +
        f"; initiatives {init}/{activity.initiatives_target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
