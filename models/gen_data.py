"""Generate the training corpus and the held-out evaluation candidates.

Three sources, all produced here from a fixed seed:
  (a) LongRA-style long-range agreement: a country is named early, unrelated
      distractor sentences follow, and the prompt ends on a cue whose only
      valid continuation is that country's capital. A smaller variant names a
      person early and asks for that name again at the end.
  (b) RAG-style QA: several one-fact "documents", then a question whose answer
      must be copied out of exactly one of them. Keys and values are drawn at
      random per item, so the answer cannot be memorised.
  (c) General English: WordNet 3.0 glosses and usage examples from the Debian
      package `wordnet-base` (read from /usr/share/wordnet).

Held-out candidates are generated first from their own RNG stream; the
training generator rejects any prompt that equals a held-out prompt, and a
fifth of the LongRA distractor sentences are reserved for evaluation only, so
no held-out item is ever seen in training. evaluate.py later keeps only the
candidates the trained LM answers correctly (after reporting accuracy on all).

Outputs (models/work/data/, git-ignored):
  train.jsonl             {"task","text","answers"} LM/MLM training texts
  general_heldout.txt     WordNet passages kept out of training (perplexity)
  heldout_candidates.jsonl eval items in the models/eval/heldout.jsonl schema
  valid.jsonl             validation items for train.py's stopping rule
"""
import os
import random
import re
import sys

from common import DATA, SEED, write_jsonl

WORDNET_DIR = "/usr/share/wordnet"

# --------------------------------------------------------------------------
# (a) LongRA
# --------------------------------------------------------------------------

# Countries whose capital is a single word. The display form carries the
# article where English needs one; the causal span is the country name only.
COUNTRIES = [
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"),
    ("Spain", "Madrid"), ("Portugal", "Lisbon"), ("Greece", "Athens"),
    ("Austria", "Vienna"), ("Hungary", "Budapest"), ("Poland", "Warsaw"),
    ("Russia", "Moscow"), ("Ukraine", "Kyiv"), ("Norway", "Oslo"),
    ("Sweden", "Stockholm"), ("Finland", "Helsinki"), ("Denmark", "Copenhagen"),
    ("Ireland", "Dublin"), ("Belgium", "Brussels"), ("the Netherlands", "Amsterdam"),
    ("Switzerland", "Bern"), ("Czechia", "Prague"), ("Romania", "Bucharest"),
    ("Bulgaria", "Sofia"), ("Serbia", "Belgrade"), ("Croatia", "Zagreb"),
    ("Turkey", "Ankara"), ("Egypt", "Cairo"), ("Kenya", "Nairobi"),
    ("Nigeria", "Abuja"), ("Ghana", "Accra"), ("Morocco", "Rabat"),
    ("Tunisia", "Tunis"), ("Algeria", "Algiers"), ("Senegal", "Dakar"),
    ("Uganda", "Kampala"), ("Zimbabwe", "Harare"), ("Zambia", "Lusaka"),
    ("Angola", "Luanda"), ("Japan", "Tokyo"), ("China", "Beijing"),
    ("Thailand", "Bangkok"), ("Vietnam", "Hanoi"), ("Indonesia", "Jakarta"),
    ("the Philippines", "Manila"), ("Pakistan", "Islamabad"),
    ("Afghanistan", "Kabul"), ("Iran", "Tehran"), ("Iraq", "Baghdad"),
    ("Syria", "Damascus"), ("Jordan", "Amman"), ("Lebanon", "Beirut"),
    ("Qatar", "Doha"), ("Nepal", "Kathmandu"), ("Bangladesh", "Dhaka"),
    ("Canada", "Ottawa"), ("Peru", "Lima"), ("Chile", "Santiago"),
    ("Colombia", "Bogota"), ("Venezuela", "Caracas"), ("Ecuador", "Quito"),
    ("Cuba", "Havana"), ("Australia", "Canberra"), ("Brazil", "Brasilia"),
    ("Latvia", "Riga"), ("Lithuania", "Vilnius"), ("Estonia", "Tallinn"),
    ("Iceland", "Reykjavik"), ("Slovakia", "Bratislava"), ("Albania", "Tirana"),
    ("Armenia", "Yerevan"), ("Azerbaijan", "Baku"), ("Uzbekistan", "Tashkent"),
]

# "{C}" is replaced by the country's display form.
LONGRA_INTROS = [
    "When my flight landed in {C}, I converted my currency and slowly fell asleep.",
    "Last spring I finally travelled to {C} with my sister.",
    "My cousin moved to {C} three years ago, so I went to visit her.",
    "After months of planning, we arrived in {C} late on a Tuesday.",
    "The conference this year was held in {C}, and I was invited to speak.",
    "I spent most of the summer working in {C}.",
    "Our ship docked in {C} just before sunrise.",
    "My grandparents were born in {C}, and I had always wanted to see it.",
    "The train finally crossed the border into {C} after a long night.",
    "We booked a cheap holiday to {C} on a whim.",
    "My company sent me to {C} for a month of meetings.",
    "It was my first time in {C}, and everything felt new.",
    "We drove for two days until we reached {C}.",
    "I went to {C} to study for a semester.",
    "My best friend got married in {C} last year.",
    "The band I play in went on tour in {C} in October.",
    "I flew to {C} to visit an old colleague.",
    "Years ago I lived in {C} for a while.",
    "Our honeymoon was in {C}, although we almost cancelled it.",
    "The moment I landed in {C}, I knew the trip would be special.",
    "I was sent to {C} to report on the elections.",
    "We crossed into {C} on a crowded night bus.",
]

# Cues that end the prompt; the gold continuation is " <capital>".
LONGRA_CAPITAL_ENDINGS = [
    "I was staying in the capital,",
    "Most of my time was spent in the capital,",
    "The first thing I did was take a taxi to the capital,",
    "Everyone told me to visit the capital city,",
    "I rented a small flat in the capital of the country,",
    "In the end, my favourite place was the capital,",
    "My hotel was right in the centre of the capital,",
    "On the last day we took the train to the capital,",
    "The embassy was, of course, in the capital,",
    "I spent a whole week exploring the capital,",
    "Before flying home, I had one more night in the capital,",
    "The capital of that country is",
    "We finally reached the capital, which is called",
    "The biggest surprise was the capital, the city of",
]

# Distractors never mention a place or a person's name, so the country (or
# the name, for the name variant) is the only cue for the answer.
DISTRACTORS = [
    "(I had a terrifying dream about my grandmother, but that's a story for another time.)",
    "The weather was grey and the coffee was terrible.",
    "My phone battery died almost immediately.",
    "I had forgotten to pack any warm socks.",
    "(My brother still laughs about the suitcase incident.)",
    "The taxi driver talked about football the whole way.",
    "I lost my umbrella on the very first afternoon.",
    "Breakfast was served far too early for my taste.",
    "(Honestly, I should have brought a better book.)",
    "The streets were louder than I had expected.",
    "Someone on the bus was eating a very strong cheese.",
    "My shoes were completely ruined by the rain.",
    "I spent an hour looking for a working cash machine.",
    "(The less said about the karaoke night, the better.)",
    "The museum was closed for repairs, which was disappointing.",
    "A stray cat followed me for three blocks.",
    "I kept mixing up the coins for the first few days.",
    "The hotel lift was broken, so I climbed the stairs every day.",
    "(I still have the ticket stub somewhere in a drawer.)",
    "My suitcase arrived two days late.",
    "The bread there was the best I have ever eaten.",
    "I wrote a postcard that I never actually sent.",
    "There was a small market selling old records and maps.",
    "(My mother had warned me about the mosquitoes.)",
    "I woke up at four in the morning because of the jet lag.",
    "The tea was sweet and very hot.",
    "We played cards on the balcony until midnight.",
    "I bought a hat that I have never worn since.",
    "(That was also the week I broke my glasses.)",
    "A kind old man helped me read the timetable.",
    "The neighbours had a very loud party on Saturday.",
    "I ate far too many pastries.",
    "It rained for three days without stopping.",
    "(I was reading a long novel about whales at the time.)",
    "The wifi in the room barely worked.",
    "My camera ran out of memory on the second day.",
    "I learned how to say thank you and not much else.",
    "The bus was always at least twenty minutes late.",
    "(We argued for an hour about which restaurant to choose.)",
    "I slept through two alarms on the first morning.",
    "The river smelled faintly of diesel.",
    "I found a tiny bookshop hidden behind a bakery.",
    "My feet hurt from walking all day.",
    "(Looking back, I packed far too many shirts.)",
    "A street musician played the same song every evening.",
    "The room had a view of a car park.",
    "I tried to cook dinner and set off the smoke alarm.",
    "(My diary from that month is mostly about sandwiches.)",
    "Nobody at the desk could find my reservation.",
    "The sunsets were longer than any I had seen before.",
]

NAMES = [
    "Margaret", "Thomas", "Alice", "Daniel", "Sofia", "Oliver", "Hannah",
    "Samuel", "Clara", "Victor", "Emma", "Lucas", "Nora", "Felix", "Ruth",
    "Oscar", "Julia", "Peter", "Laura", "Henry", "Maya", "Adam", "Rosa",
    "Simon", "Greta", "Martin", "Irene", "David", "Lena", "Arthur", "Vera",
    "George", "Helen", "Leo", "Paula", "Frank", "Ingrid", "Hugo", "Anna",
    "Walter", "Marta", "Ivan", "Carmen", "Louis", "Esther", "Pablo", "Diana",
    "Karl", "Alma", "Edgar", "Tessa", "Boris", "Nadia", "Ralph", "Eva",
    "Milo", "Judith", "Omar", "Sara", "Philip",
]

NAME_INTROS = [
    "Yesterday my old friend {N} called me out of the blue.",
    "{N} was the first person I met at the new job.",
    "My neighbour, {N}, knocked on my door this morning.",
    "At the party I ended up talking to {N} for hours.",
    "Last week {N} lent me a bicycle.",
    "I have known {N} since we were children.",
    "On Monday {N} asked me for help with a difficult letter.",
    "My landlord, {N}, finally fixed the heating.",
    "During the storm, {N} let me wait in the kitchen.",
    "The new manager, {N}, started on a Thursday.",
]

NAME_ENDINGS = [
    "Before I left, I said goodbye to",
    "That evening I wrote a long thank-you note to",
    "The next morning I returned the favour and bought coffee for",
    "When the phone rang again, I knew it was",
    "Of everyone I met that year, the kindest was",
    "I still think about that day whenever I see",
    "A week later I sent a small present to",
]

# --------------------------------------------------------------------------
# (b) RAG
# --------------------------------------------------------------------------

RAG_KEYS = [
    "Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel",
    "India", "Juliet", "Kilo", "Lima", "Mike", "November", "Oscar", "Papa",
    "Quebec", "Romeo", "Sierra", "Tango", "Uniform", "Victor", "Whiskey",
    "Xray", "Yankee", "Zulu", "Gamma", "Epsilon", "Zeta", "Theta", "Iota",
    "Kappa", "Lambda", "Omicron", "Sigma", "Omega", "Falcon", "Orion",
    "Cedar", "Maple", "Willow", "Aspen", "Harbor", "Summit", "Beacon",
    "Comet", "Nova", "Pulsar", "Quasar", "Nebula", "Atlas", "Titan",
    "Phoenix", "Griffin", "Dragon", "Raven", "Sparrow", "Heron", "Otter",
    "Badger", "Lynx", "Panther", "Cobalt", "Copper", "Silver", "Granite",
    "Marble", "Quartz", "Amber", "Jasper", "Onyx", "Pebble", "Meadow",
    "Canyon", "Glacier", "Tundra", "Prairie", "Lagoon", "Harvest", "Ember",
]
# "Lima", "India", "Oscar", "Victor" are also cities/countries/names elsewhere;
# drop them as keys so a key never doubles as another task's answer.
RAG_KEYS = [k for k in RAG_KEYS if k not in {"Lima", "India", "Oscar", "Victor"}]

COLOURS = [
    "red", "blue", "green", "yellow", "purple", "orange", "black", "white",
    "grey", "brown", "pink", "teal", "crimson", "violet", "indigo", "silver",
    "golden", "beige", "maroon", "turquoise", "olive", "navy", "scarlet", "ivory",
]
# Non-capital cities, so RAG answers never overlap LongRA answers.
CITIES = [
    "Lyon", "Porto", "Osaka", "Hamburg", "Milan", "Seville", "Geneva",
    "Krakow", "Gdansk", "Bergen", "Malmo", "Antwerp", "Rotterdam", "Munich",
    "Naples", "Valencia", "Marseille", "Glasgow", "Toronto", "Chicago",
    "Boston", "Denver", "Seattle", "Houston", "Sydney", "Perth", "Auckland",
    "Mumbai", "Chennai", "Kyoto", "Busan", "Shanghai", "Dubai", "Lagos",
    "Mombasa", "Durban", "Cordoba", "Recife", "Medellin", "Cusco", "Tijuana",
    "Montreal", "Vancouver", "Leeds", "Bristol", "Turin", "Bologna", "Basel",
]

def _code(rng: random.Random) -> str:
    return str(rng.randint(1000, 9999))


# attribute -> value sampler. Every document template puts the value two
# tokens after the key ("... of Bravo is 3318", "... of Bravo: 3318") and every
# question ends on the key: a tiny model learns the match-and-copy circuit
# far faster with fixed offsets (varied offsets left it near chance on CPU budget).
RAG_VALUES = {
    "code": _code,
    "colour": lambda rng: rng.choice(COLOURS),
    "city": lambda rng: rng.choice(CITIES),
    "owner": lambda rng: rng.choice(NAMES),
}
RAG_DOCS = ["The {a} of {K} is {V}.", "The listed {a} of {K} is {V}.", "{A} of {K}: {V}."]
RAG_QUESTIONS = ["What is the {a} of {K}?", "Do you know the {a} of {K}?", "Please give the {a} of {K}."]


def _fill(template: str, parts: dict[str, str]) -> tuple[str, dict[str, tuple[int, int]]]:
    """Fill {X} placeholders and return the char span of each filled value."""
    out, spans, pos = [], {}, 0
    for m in re.finditer(r"\{(\w)\}", template):
        out.append(template[pos:m.start()])
        start = sum(len(s) for s in out)
        val = parts[m.group(1)]
        out.append(val)
        spans[m.group(1)] = (start, start + len(val))
        pos = m.end()
    out.append(template[pos:])
    return "".join(out), spans


def make_longra_capital(rng: random.Random, distractors: list[str]) -> dict:
    country, capital = rng.choice(COUNTRIES)
    intro, spans = _fill(rng.choice(LONGRA_INTROS), {"C": country})
    name_only = country.removeprefix("the ")  # causal span: the name itself
    c_start = spans["C"][0] + (len(country) - len(name_only))
    body = [intro] + rng.sample(distractors, rng.randint(1, 3))
    prompt = " ".join(body + [rng.choice(LONGRA_CAPITAL_ENDINGS)])
    return {
        "variant": "capital",
        "prompt": prompt,
        "completion": " " + capital,
        "causal": [{"start": c_start, "end": spans["C"][1], "text": name_only}],
    }


def make_longra_name(rng: random.Random, distractors: list[str]) -> dict:
    name = rng.choice(NAMES)
    intro, spans = _fill(rng.choice(NAME_INTROS), {"N": name})
    body = [intro] + rng.sample(distractors, rng.randint(1, 3))
    prompt = " ".join(body + [rng.choice(NAME_ENDINGS)])
    s, e = spans["N"]
    return {
        "variant": "name",
        "prompt": prompt,
        "completion": " " + name,
        "causal": [{"start": s, "end": e, "text": name}],
    }


def _question(rng: random.Random, attr: str, key: str) -> tuple[str, tuple[int, int]]:
    q, sp = _fill(rng.choice(RAG_QUESTIONS).replace("{a}", attr), {"K": key})
    return q, sp["K"]


def make_rag(rng: random.Random, extra_questions: int = 0) -> dict:
    """One RAG item. extra_questions > 0 (training only) appends further
    question/answer pairs about other facts of the same context, which gives
    more copy supervision per sequence."""
    n_docs = rng.randint(3, 5)
    attr = rng.choice(list(RAG_VALUES))
    keys = rng.sample(RAG_KEYS, n_docs)
    target = rng.randrange(n_docs)
    facts = []  # [key, attr, value]
    for i, key in enumerate(keys):
        # Mostly the asked attribute (the model must match the key); sometimes
        # another attribute (the model must also match the attribute).
        a = attr if i == target or rng.random() < 0.7 else rng.choice(list(RAG_VALUES))
        facts.append([key, a, None])
    # Occasionally give the target key a second, different attribute too.
    if rng.random() < 0.2:
        other = rng.choice([a for a in RAG_VALUES if a != attr])
        facts.insert(rng.randrange(len(facts) + 1), [keys[target], other, None])
    used: set[str] = set()
    for f in facts:
        while True:  # values are unique within an item, so the copy is unambiguous
            v = RAG_VALUES[f[1]](rng)
            if not any(v in u or u in v for u in used):
                break
        used.add(v)
        f[2] = v
    text, causal = "Context:", None
    for i, (key, a, v) in enumerate(facts):
        tmpl = rng.choice(RAG_DOCS).replace("{a}", a).replace("{A}", a.capitalize())
        doc, sp = _fill(tmpl, {"K": key, "V": v})
        text += f" [doc {i + 1}] "
        base = len(text)
        text += doc
        if key == keys[target] and a == attr:
            causal = [(base + sp["V"][0], base + sp["V"][1], v),
                      (base + sp["K"][0], base + sp["K"][1], key)]
    q, (ks, ke) = _question(rng, attr, keys[target])
    text += " Question: "
    base = len(text)
    text += q + " Answer:"
    causal.append((base + ks, base + ke, keys[target]))
    answer = next(v for k, a, v in facts if k == keys[target] and a == attr)
    extra, extra_answers = "", []
    for _ in range(extra_questions):
        k, a, v = rng.choice(facts)
        q, _ = _question(rng, a, k)
        extra += f" Question: {q} Answer:"
        extra_answers.append((len(extra), len(extra) + 1 + len(v)))
        extra += f" {v}."
    return {
        "variant": attr,
        "prompt": text,
        "completion": " " + answer,
        "extra": extra,
        "extra_answers": extra_answers,
        "causal": [{"start": s, "end": e, "text": t} for s, e, t in causal],
    }


# --------------------------------------------------------------------------
# (c) General English from WordNet
# --------------------------------------------------------------------------

def wordnet_entries() -> list[str]:
    """One short text per synset: "lemma: gloss. Example sentence."."""
    entries = []
    for pos in ("noun", "verb", "adj", "adv"):
        path = os.path.join(WORDNET_DIR, f"data.{pos}")
        with open(path, encoding="latin-1") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue  # licence header
                fields = line.split(" ")
                lemma = fields[4].replace("_", " ")
                lemma = re.sub(r"\(\w+\)$", "", lemma)  # adj markers like (a)
                gloss = line.split("|", 1)[1].strip()
                parts = [p.strip() for p in gloss.split(";") if p.strip()]
                defs = [p for p in parts if not p.startswith('"')]
                examples = [p.strip('"').strip() for p in parts if p.startswith('"')]
                text = f"{lemma}: {'; '.join(defs)}." if defs else f"{lemma}."
                for ex in examples:
                    ex = ex.rstrip('"').strip()
                    if ex:
                        text += " " + ex[0].upper() + ex[1:] + ("" if ex[-1] in ".!?" else ".")
                entries.append(text)
    return entries


def general_passages(rng: random.Random) -> tuple[list[str], list[str]]:
    entries = wordnet_entries()
    rng.shuffle(entries)
    passages, cur = [], ""
    for e in entries:  # pack entries into passages of ~300-500 characters
        cur = (cur + " " + e).strip()
        if len(cur) > 300:
            passages.append(cur[:600])
            cur = ""
    n_held = 300
    return passages[n_held:], passages[:n_held]


# --------------------------------------------------------------------------

# LongRA is learned early; RAG copying needs most of the budget.
N_TRAIN = {"longra_capital": 24000, "longra_name": 8000, "rag": 100000}
N_GENERAL_TRAIN = 30000
N_HELD = {"longra_capital": 260, "longra_name": 60, "rag": 320}
N_VALID = {"longra_capital": 96, "longra_name": 32, "rag": 128}


def main() -> None:
    rng_eval = random.Random(f"{SEED}-eval")
    rng_train = random.Random(f"{SEED}-train")
    rng_general = random.Random(f"{SEED}-general")

    # A fifth of the distractor sentences appear only in held-out LongRA items.
    dis = DISTRACTORS[:]
    random.Random(f"{SEED}-distractors").shuffle(dis)
    dis_eval, dis_train = dis[: len(dis) // 5], dis[len(dis) // 5:]
    dis_eval_mix = dis_eval + dis_train  # held-out items may also use common ones

    makers = {
        "longra_capital": lambda r, d: make_longra_capital(r, d),
        "longra_name": lambda r, d: make_longra_name(r, d),
        "rag": lambda r, d: make_rag(r, extra_questions=r.randint(0, 2) if d is dis_train else 0),
    }

    held, seen = [], set()
    for kind, n in N_HELD.items():
        i = 0
        while i < n:
            item = makers[kind](rng_eval, dis_eval_mix)
            if item["prompt"] in seen:
                continue
            seen.add(item["prompt"])
            task = "rag" if kind == "rag" else "longra"
            held.append({"id": f"{task}-{item['variant']}-{i:04d}", "task": task,
                         "prompt": item["prompt"], "completion": item["completion"],
                         "causal": item["causal"]})
            i += 1
    for h in held:  # sanity: spans point at the right text
        # ASCII only, so char offsets are the same in Python, JS (UTF-16) and bytes.
        assert h["prompt"].isascii() and h["completion"].isascii(), h
        for c in h["causal"]:
            assert h["prompt"][c["start"]:c["end"]] == c["text"], h

    train, train_prompts = [], set()
    for kind, n in N_TRAIN.items():
        rejected = 0
        for _ in range(n):
            while True:
                item = makers[kind](rng_train, dis_train)
                if item["prompt"] not in seen:
                    break
                rejected += 1
            # Training text continues past the answer so the LM also learns to
            # close the sentence; "answers" are the char spans of the answers
            # (train.py up-weights their tokens in the loss).
            train_prompts.add(item["prompt"])
            text = item["prompt"] + item["completion"] + "."
            answers = [(len(item["prompt"]), len(text) - 1)]
            answers += [(len(text) + s, len(text) + e) for s, e in item.get("extra_answers", [])]
            text += item.get("extra", "")
            train.append({"task": kind, "text": text, "answers": answers})
        print(f"{kind}: {n} train items ({rejected} rejected as held-out duplicates)")

    # Validation items (for train.py's stopping rule only): own RNG stream,
    # training distractors, and no prompt shared with training or held-out.
    rng_valid, valid = random.Random(f"{SEED}-valid"), []
    for kind, n in N_VALID.items():
        while sum(v["task"] == kind for v in valid) < n:
            item = makers[kind](rng_valid, list(dis_train))  # a copy: no extra questions
            if item["prompt"] not in seen and item["prompt"] not in train_prompts:
                seen.add(item["prompt"])
                valid.append({"task": kind, "prompt": item["prompt"], "completion": item["completion"]})

    general, general_held = general_passages(rng_general)
    general = general[:N_GENERAL_TRAIN]
    train += [{"task": "general", "text": g, "answers": []} for g in general]
    rng_train.shuffle(train)

    os.makedirs(DATA, exist_ok=True)
    write_jsonl(os.path.join(DATA, "train.jsonl"), train)
    write_jsonl(os.path.join(DATA, "heldout_candidates.jsonl"), held)
    write_jsonl(os.path.join(DATA, "valid.jsonl"), valid)
    with open(os.path.join(DATA, "general_heldout.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(general_held) + "\n")
    print(f"train: {len(train)} texts ({len(general)} general); "
          f"held-out candidates: {len(held)}; general held-out passages: {len(general_held)}")


if __name__ == "__main__":
    sys.exit(main())
