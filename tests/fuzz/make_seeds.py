#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/seeds/<target>/) from the tests.

    python3 tests/fuzz/make_seeds.py        # rewrites tests/fuzz/seeds/*

- protocol:    every client frame the unit and integration tests build (their
               nlohmann `json{{"type", ...}}` literals, read back into JSON) and
               the raw frames they send, plus one frame of each type.
- http:        every path the tests ask for (unit, integration, e2e), with each
               kind of token, and the request bodies they send.
- anger:       every message of tests/data/anger (one seed each) and each
               conversation there as one seed (agent lines "A:", shopper lines bare).
- redis_reply: the replies the Redis store reads, as RESP, with the fields the
               store writes (server/store/redis_store.cpp) and values from the tests.

Seeds are named by the SHA-1 of their content, as libFuzzer names what it finds.
It also writes tests/fuzz/dict/anger.dict from the lexicons (config/lexicons,
config/causes); the other dictionaries there are written by hand.
"""
import glob
import hashlib
import json
import os
import re
import shutil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "seeds")


def write(target, blobs):
    d = os.path.join(OUT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    seen = set()
    for b in blobs:
        if isinstance(b, str):
            b = b.encode()
        h = hashlib.sha1(b).hexdigest()
        if h in seen:
            continue
        seen.add(h)
        with open(os.path.join(d, h), "wb") as f:
            f.write(b)
    print(f"{target}: {len(seen)} seeds")


def sources(*patterns):
    for p in patterns:
        for f in sorted(glob.glob(os.path.join(ROOT, p), recursive=True)):
            with open(f, encoding="utf-8") as fh:
                yield fh.read()


# ---- C++ nlohmann initializer lists -> JSON ---------------------------------

TOKEN = re.compile(r'''\s*(?:(?P<str>(?:u8)?"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?(?:e-?\d+)?)|
                       (?P<id>[A-Za-z_][A-Za-z_0-9:]*)|(?P<p>[{}(),]))''', re.X)


def cpp_string(lit):
    lit = lit[2:] if lit.startswith("u8") else lit
    return json.loads(lit)  # C++ escapes used in the tests (\n, \", \\, \t) are JSON's


class NotLiteral(Exception):
    pass


def parse_braced(tokens, i):
    """tokens[i] is '{': returns (value, next index). Objects are lists of {"k", v}."""
    assert tokens[i] == ("p", "{")
    i += 1
    items = []
    while tokens[i] != ("p", "}"):
        v, i = parse_value(tokens, i)
        items.append(v)
        if tokens[i] == ("p", ","):
            i += 1
    i += 1
    pairs = [x for x in items if isinstance(x, _Pair)]
    if items and len(pairs) == len(items):
        return {p.k: p.v for p in pairs}, i
    return [x.as_array() if isinstance(x, _Pair) else x for x in items], i


class _Pair:
    def __init__(self, k, v):
        self.k, self.v = k, v

    def as_array(self):
        return [self.k, self.v]


def parse_value(tokens, i):
    kind, text = tokens[i]
    if kind == "p" and text == "{":
        # {"key", value} is a pair; anything else a nested list.
        j = i + 1
        if tokens[j][0] == "str" and tokens[j + 1] == ("p", ","):
            k = cpp_string(tokens[j][1])
            v, j = parse_value(tokens, j + 2)
            if tokens[j] == ("p", "}"):
                return _Pair(k, v), j + 1
        return parse_braced(tokens, i)
    if kind == "str":
        s = cpp_string(text)
        i += 1
        while tokens[i][0] == "str":  # adjacent literals
            s += cpp_string(tokens[i][1])
            i += 1
        return s, i
    if kind == "num":
        return json.loads(text), i + 1
    if kind == "id":
        if text in ("true", "false"):
            return text == "true", i + 1
        if text == "nullptr":
            return None, i + 1
        if text in ("json", "nlohmann::json") and tokens[i + 1] == ("p", "{"):
            v, j = parse_braced(tokens, i + 1)
            return (v if not isinstance(v, _Pair) else {v.k: v.v}), j
        if text in ("json::array", "nlohmann::json::array") and tokens[i + 1] == ("p", "("):
            if tokens[i + 2] == ("p", ")"):
                return [], i + 3
            v, j = parse_braced(tokens, i + 2)
            if tokens[j] != ("p", ")"):
                raise NotLiteral()
            return (list(v.values()) if isinstance(v, dict) else v), j + 1
        if text in ("std::string",) and tokens[i + 1] == ("p", "("):
            # std::string(N, 'c') is not a token we read: give up on this literal.
            raise NotLiteral()
    raise NotLiteral()


def tokenize(text):
    out, pos = [], 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            out.append(("other", text[pos]))
            pos += 1
            continue
        pos = m.end()
        for k in ("str", "num", "id", "p"):
            if m.group(k) is not None:
                out.append((k, m.group(k)))
                break
    out.append(("p", "}"))  # sentinel
    return out


def json_literals(text):
    """Every `json{...}` in C++ source that is made of literals only, as a JSON value."""
    for m in re.finditer(r"\bjson\{", text):
        chunk = text[m.start() + 4 : m.start() + 4 + 4000]
        tokens = tokenize(chunk)
        try:
            v, _ = parse_braced(tokens, 0)
        except (NotLiteral, IndexError, AssertionError, ValueError):
            continue
        yield v


def raw_literals(text):
    for m in re.finditer(r'R"\((.*?)\)"', text, re.S):
        yield m.group(1)


# ---- protocol -----------------------------------------------------------------

def protocol_seeds():
    frames = []
    for text in sources("tests/unit/*.cpp", "tests/integration/*.cpp"):
        for v in json_literals(text):
            if isinstance(v, dict) and isinstance(v.get("type"), str):
                frames.append(json.dumps(v, ensure_ascii=False, separators=(",", ":")))
        for r in raw_literals(text):
            if r.startswith('{"type"'):
                frames.append(r)
        for m in re.finditer(r'parse_client_message\("((?:[^"\\]|\\.)*)"', text):
            try:
                frames.append(json.loads('"' + m.group(1) + '"'))
            except ValueError:
                pass
    # One of each type, with every optional field (PROTOCOL.md).
    frames += [
        '{"type":"hello","role":"shopper","store":"demo-pl","name":"Jan","language":"pl",'
        '"context":{"order_id":"A-1042","order_value":"950.50","currency":"pln","tier":"vip"}}',
        '{"type":"hello","token":"eyJyIjoiYWdlbnQifQ.c2ln"}',
        '{"type":"chat.send","client_msg_id":"m-1","text":"ESTO ES UNA VERGÜENZA!!! quiero hablar con el gerente",'
        '"conversation_id":"c_1"}',
        '{"type":"typing","conversation_id":"c1","state":false}',
        '{"type":"read","conversation_id":"c1","seq":18446744073709551615}',
        '{"type":"history","conversation_id":"c1","after_seq":0}',
        '{"type":"conversation.close","conversation_id":"c1","reason":"resolved","follow_up":true}',
        '{"type":"presence.set","status":"online","capacity":3}',
        '{"type":"conversation.transfer","conversation_id":"c1","to_agent_id":"agent2"}',
        '{"type":"escalation.ack","escalation_id":"e1"}',
        '{"type":"escalation.resolve","escalation_id":"e1","note":"llamé al cliente"}',
        '{"type":"conversation.join","conversation_id":"c1","mode":"whisper"}',
        '{"type":"conversation.takeover","conversation_id":"c1"}',
        '{"type":"ping"}',
        '{"type":"contact","conversation_id":"c1","email":"ana@example.com","phone":"+48 600 100 200","note":"po 18"}',
        '{"type":"followup.done","conversation_id":"c1","note":"oddzwoniłem"}',
        '{"type":"csat","conversation_id":"c1","score":5,"comment":"¡Gracias!"}',
        '{"type":"causes.set","conversation_id":"c1","causes":["delivery","refund"]}',
        '{"type":"chat.send","client_msg_id":"m2","text":"\\u00a0\\u200b"}',
        '{"type":"chat.send","client_msg_id":"m3","text":"\\ud83d\\ude21 zły"}',
    ]
    write("protocol", frames)


# ---- http ---------------------------------------------------------------------

def http_seeds():
    paths = set()
    bodies = set()
    for text in sources("tests/unit/*.cpp", "tests/integration/*.cpp", "tests/e2e/*.mjs"):
        for m in re.finditer(r'"(/(?:api/v1|healthz|metrics|console|pl|assets|widget|index)[^"\s]*)"', text):
            paths.add(m.group(1))
        for m in re.finditer(r'resolve_static\("/srv", "((?:[^"\\]|\\.)*)"\)', text):
            paths.add(m.group(1))
        for r in raw_literals(text):
            if r.startswith('{"username"'):
                bodies.add(r)
    paths |= {"/", "/index.html", "/pl/", "/assets/app-1a2b3c.js", "/assets/style.css", "/widget.js",
              "/api/v1/conversations/c1", "/api/v1/conversations/c2", "/api/v1/followups?store=demo-pl",
              "/api/v1/reports/summary?from=1749900000000&to=1750100000000&store=demo-pl",
              "/api/v1/reports/conversations.csv?from=1749900000000&to=1750100000000",
              "/api/v1/canned?store=demo&lang=es", "/api/v1/stores/demo-pl/widget", "/%2e%2e/secret.txt",
              "/..%2fsecret.txt", "/../www-secret/index.html"}
    # Line 5: Content-Type, Accept-Encoding, If-None-Match, client address (tab-separated).
    none = ""
    seeds = []
    for p in sorted(paths):
        for auth in ("-", "sup", "agent"):
            seeds.append(f"GET\n{p}\n{auth}\n\n{none}\n")
    for p in ("/widget.js", "/assets/app-1a2b3c.js", "/index.html"):
        for ae in ("br, gzip", "gzip;q=1, br;q=0", "identity", "*", "gzip, deflate, br;q=0.5"):
            seeds.append(f"GET\n{p}\n-\n\n\t{ae}\t\t203.0.113.7\n")
        seeds.append(f'GET\n{p}\n-\n\n\tbr\t"0-br", W/"1"\t\n')
        seeds.append(f"GET\n{p}\n-\n\n\t\t*\t\n")
    seeds.append("GET\n/api/v1/stores/demo/widget\n-\nhttps://shop.example.com\n\n")
    seeds.append("HEAD\n/healthz\n-\n\n\n")
    seeds.append("GET\n/metrics\n-\n\n\t\t\t198.51.100.9\n")
    seeds.append("GET\n/metrics\nBearer metrics-token\n\n\t\t\t2001:db8::1\n")
    seeds.append("GET\n/api/v1/conversations/c1\nshopper\n\n\n")
    seeds.append("GET\n/api/v1/followups\nBearer not.a-token\n\n\n")
    seeds.append("POST\n/api/v1/logout\nagent2\n\n\n")
    seeds.append("DELETE\n/api/v1/conversations/c1\nsup\n\n\n")
    seeds.append("PUT\n/index.html\n-\n\n\n")
    for b in sorted(bodies) + ['{"username":1,"password":"x"}', "username=agent&password=agent", "{", "[]"]:
        for ct in ("application/json", "application/json; charset=utf-8", "text/plain", ""):
            seeds.append(f"POST\n/api/v1/login\n-\n\n{ct}\t\t\t192.0.2.1\n{b}")
    write("http", seeds)


# ---- anger --------------------------------------------------------------------

def anger_seeds():
    seeds = []
    for f in sorted(glob.glob(os.path.join(ROOT, "tests/data/anger/**/*.jsonl"), recursive=True)):
        lines = []
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if j.get("tick"):
                    lines.append("T:")
                elif isinstance(j.get("text"), str):
                    seeds.append(j["text"])
                    lines.append(("A:" if j.get("role") == "agent" else "") + j["text"].replace("\n", " "))
        if "conversations" in f or "/cli/" in f:
            seeds.append("\n".join(lines))
    with open(os.path.join(ROOT, "tests/data/anger/cli/score_input.txt"), encoding="utf-8") as fh:
        seeds += [l for l in fh.read().splitlines() if l]
    write("anger", seeds)


# ---- redis_reply --------------------------------------------------------------

def resp(v):
    if v is None:
        return b"$-1\r\n"
    if isinstance(v, bool):
        raise TypeError
    if isinstance(v, int):
        return b":%d\r\n" % v
    if isinstance(v, Status):
        return b"+" + v.s.encode() + b"\r\n"
    if isinstance(v, Error):
        return b"-" + v.s.encode() + b"\r\n"
    if isinstance(v, str):
        b = v.encode()
        return b"$%d\r\n%s\r\n" % (len(b), b)
    return b"*%d\r\n" % len(v) + b"".join(resp(x) for x in v)


class Status:
    def __init__(self, s):
        self.s = s


class Error:
    def __init__(self, s):
        self.s = s


def record(cid, store, state, extra=()):
    fields = [
        ("id", cid), ("shopper_id", "s_" + cid), ("shopper_name", "Lucía"), ("shopper_language", "es"),
        ("shopper_store", store), ("state", state), ("agent_name", "Ana García"), ("queue", "default"),
        ("created_ts", "1700000000000"), ("updated_ts", "1700000060000"), ("closed_by", ""),
        ("close_reason", ""), ("escalation_acked_ts", "0"), ("escalation_acked_by", ""),
        ("context", '{"order_id":"A-1042","order_value":950.5,"currency":"PLN","tier":"vip"}'),
        ("contact", '{"email":"jan@example.pl","phone":"+48 600 100 200","note":"po 18","ts":1700000070000}'),
        ("first_response_ts", "1700000030000"), ("contact_answered_ts", "0"), ("follow_up", "1"),
        ("follow_up_done_ts", "0"), ("follow_up_done_by", ""), ("csat_score", "4"), ("csat_comment", "dzięki"),
        ("csat_ts", "1700000090000"), ("categories", '["delivery","refund"]'), ("categories_corrected", "0"),
        ("figures", '{"peak_level":72.5,"closing_level":20,"escalations":1,"escalation_reasons":["manager_request"],'
                    '"first_response_by":"agent","agents":[{"id":"agent","name":"Ana García","replies":2,"fall_sum":31.5}]}'),
        ("followup", "1"), ("last_seq", "7"), ("agent_id", "agent"),
    ] + list(extra)
    return [x for kv in fields for x in kv]


def message(seq, role, frm, text, vis="all"):
    return [f"{seq}-0", ["ts", "1700000000000", "role", role, "from", frm, "name", frm, "text", text,
                         "cmid", f"m{seq}", "vis", vis]]


def redis_seeds():
    rec = record("c1", "demo", "assigned")
    closed = record("c2", "demo-pl", "closed", [("closed_by", "agent2"), ("state", "closed")])
    msgs = [message(1, "shopper", "s1", "¿Dónde está mi pedido?"), message(2, "agent", "agent", "Lo miro"),
            message(3, "agent", "supervisor", "susurro", "staff")]
    presence = ['{"status":"online","capacity":3,"ts":1700000000000}', None, '{"status":"away","capacity":0,"ts":1}']
    replies = {
        0: [rec, closed, [], None],                           # HGETALL
        1: [[rec, closed], [], [rec, []]],                    # list_conversations.lua
        2: [[-1, rec, closed], [200, rec], [-1]],             # list_window.lua
        3: [[2, 8], [1, 3, msgs[0][1]], [1, 3], [0, 0]],      # append.lua
        4: [msgs, [], [["bad"]]],                             # XRANGE
        5: [presence, [None, None, None]],                    # MGET presence
        6: [["1"], "7", Status("OK"), Error("ERR fenced: not the leader"),
            ['{"action":"opened","ts":1}', '{"action":"closed","ts":2}']],  # GET, LRANGE audit
    }
    seeds = []
    for which, rs in replies.items():
        for r in rs:
            seeds.append(bytes([which]) + resp(r))
        seeds.append(bytes([which]) + b"".join(resp(r) for r in rs))  # a pipeline of replies
    write("redis_reply", seeds)


# ---- the anger dictionary -------------------------------------------------------

def dict_entry(word):
    out = ""
    for b in word.encode():
        c = chr(b)
        out += c if 0x20 <= b < 0x7F and c not in '"\\' else "\\x%02X" % b
    return '"' + out + '"'


def anger_dict():
    words = set()
    def add(term):
        for w in re.split(r"[\s~]+", term.replace("*", "")):
            if 2 <= len(w.encode()) <= 40:
                words.add(w)
    for f in sorted(glob.glob(os.path.join(ROOT, "config/lexicons/*.json"))):
        j = json.load(open(f, encoding="utf-8"))
        for key in ("negators", "clause_breakers", "function_words"):
            for t in j.get(key, []):
                add(t)
        for t in j.get("intensifiers", {}):
            add(t)
        for cat in j.get("categories", {}).values():
            for t in cat.get("terms", []):
                add(t if isinstance(t, str) else t.get("term", ""))
    for f in sorted(glob.glob(os.path.join(ROOT, "config/causes/*.json"))):
        j = json.load(open(f, encoding="utf-8"))
        for v in list(j.get("causes", {}).values()) + [j.get("ignore", [])]:
            for t in (v if isinstance(v, list) else []):
                add(t if isinstance(t, str) else t.get("term", ""))
    extra = ["!!!", "???", "?!", "\u00a1", "\u00bf", "\u2026", "\u00ab", "\u00bb", "\u201e", "\u201d", "\"",
             "\U0001F621", "\U0001F620", "\U0001F92C", "\U0001F60A", "\U0001F44D", "\u0141", "\u0142",
             "\u00d1", "\u00c9", "A:", "T:", "\n"]
    lines = [dict_entry(w) for w in sorted(words)] + [dict_entry(w) for w in extra]
    d = os.path.join(ROOT, "tests", "fuzz", "dict")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "anger.dict"), "w") as f:
        f.write("# Written by tests/fuzz/make_seeds.py from config/lexicons and config/causes.\n")
        f.write("\n".join(lines) + "\n")
    print(f"anger.dict: {len(lines)} entries")


if __name__ == "__main__":
    protocol_seeds()
    http_seeds()
    anger_seeds()
    redis_seeds()
    anger_dict()
