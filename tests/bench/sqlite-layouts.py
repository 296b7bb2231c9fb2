# The storage layouts of BENCHMARKS.md "What an event costs" ("Chunks") in plain SQLite:
#   pip install pysqlite3-binary && python3 tests/bench/sqlite-layouts.py 200
# (the argument: thousands of events stored before the 50 measured batches).
# Plain SQLite: CPU per 1,000-event batch of random UUID keys, as the table grows, for
# the layouts under consideration. WAL, one transaction per batch, set-based inserts.
import pysqlite3 as sqlite3, os, time, uuid, json, random, sys
N_BATCH = 1000
BATCHES = int(sys.argv[1]) if len(sys.argv) > 1 else 300
def cpu(): t = os.times(); return t.user + t.system
def run(name, setup, insert):
    path = f"/tmp/lay_{name}.db"
    for s in ("", "-wal", "-shm"):
        try: os.remove(path + s)
        except FileNotFoundError: pass
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
    for s in setup: db.execute(s)
    marks = {}
    t0 = cpu()
    for b in range(BATCHES):
        keys = [uuid.uuid4() for _ in range(N_BATCH)]
        db.execute("BEGIN")
        insert(db, keys, b)
        db.execute("COMMIT")
        if (b + 1) in (50, 100, 200, 300, 400, 600):
            marks[b + 1] = (cpu() - t0) / (b + 1) * 1000
    last = {}
    # CPU per batch over the last 50 batches
    t1 = cpu()
    for b in range(50):
        keys = [uuid.uuid4() for _ in range(N_BATCH)]
        db.execute("BEGIN"); insert(db, keys, BATCHES + b); db.execute("COMMIT")
    tail = (cpu() - t1) / 50 * 1000
    size = os.path.getsize(path) + (os.path.getsize(path + "-wal") if os.path.exists(path + "-wal") else 0)
    print(f"{name:28s} ms/batch at {BATCHES}k rows: {tail:6.1f}   bytes/event ~{os.path.getsize(path)/((BATCHES+50)*N_BATCH):.0f}", flush=True)

def compact(db, keys, b):
    rows = [[k.hex, "ab"*16, "load_abcdefgh", {"value": "1"}, 1767225600000 + b, 1767225600000] for k in keys]
    db.execute("INSERT INTO events (key, hash, event_name, body, ts, period_start, received_at) "
               "SELECT unhex(value->>0), unhex(value->>1), value->>2, value->3, value->>4, value->>5, 0 FROM json_each(?)",
               (json.dumps(rows),))
def floor(db, keys, b):
    rows = [[str(k), "load_abcdefgh", 1] for k in keys]
    db.execute("INSERT INTO events (key, event_name, value) SELECT value->>0, value->>1, value->>2 FROM json_each(?) WHERE true ON CONFLICT (key) DO NOTHING",
               (json.dumps(rows),))
def chunked(db, keys, b):
    cur = db.execute("INSERT INTO chunks (period_start, events) VALUES (?, ?)", (1767225600000,
        json.dumps([[str(k), "ab"*16, "load_abcdefgh", "1", 1767225600000 + b] for k in keys])))
    cid = cur.lastrowid
    db.execute("INSERT INTO event_keys (key, chunk) SELECT unhex(value), ? FROM json_each(?)",
               (cid, json.dumps([k.hex for k in keys])))
def keyhash(db, keys, b):
    cur = db.execute("INSERT INTO chunks (period_start, events) VALUES (?, ?)", (1767225600000,
        json.dumps([[str(k), "load_abcdefgh", "1", 1767225600000 + b] for k in keys])))
    cid = cur.lastrowid
    db.execute("INSERT INTO event_keys (key, hash, chunk) SELECT unhex(value), randomblob(16), ? FROM json_each(?)",
               (cid, json.dumps([k.hex for k in keys])))

random.seed(1)
print("sqlite", sqlite3.sqlite_version)
run("floor (rowid + text key)", ["CREATE TABLE events (key TEXT PRIMARY KEY, event_name TEXT NOT NULL, value REAL NOT NULL)"], floor)
run("compact row (today)", ["CREATE TABLE events (key BLOB PRIMARY KEY, hash BLOB NOT NULL, event_name TEXT NOT NULL, body TEXT NOT NULL, ts INTEGER NOT NULL, period_start INTEGER NOT NULL, received_at INTEGER NOT NULL, voided_at INTEGER) WITHOUT ROWID"], compact)
run("keys + chunk rows", ["CREATE TABLE event_keys (key BLOB PRIMARY KEY, chunk INTEGER NOT NULL) WITHOUT ROWID",
                          "CREATE TABLE chunks (id INTEGER PRIMARY KEY, period_start INTEGER NOT NULL, events TEXT NOT NULL)"], chunked)
run("keys+hash + chunk rows", ["CREATE TABLE event_keys (key BLOB PRIMARY KEY, hash BLOB NOT NULL, chunk INTEGER NOT NULL) WITHOUT ROWID",
                          "CREATE TABLE chunks (id INTEGER PRIMARY KEY, period_start INTEGER NOT NULL, events TEXT NOT NULL)"], keyhash)
