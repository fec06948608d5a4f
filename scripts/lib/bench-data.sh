# shellcheck shell=bash
# host, port, base, db, bin and tmp are the caller's:
# shellcheck disable=SC2154
# Shared by scripts/bench-backup and scripts/bench-training (sourced, not run): a throwaway
# database and release server, and a department's worth of training data.
#
# The caller sets host, port, base, db, bin and tmp, and defines say and die; `sql` is defined
# here. Members, courses and requirements go through the API; the ~50,000 training records are
# generated in MariaDB with one INSERT … SELECT over the Sequence engine (a benchmark needs the
# volume, not the API's path), each with the department, one of its members and categories, a
# completion date from 2016-12 to 2026-11 and DECIMAL hours.

bench_client=$(command -v mariadb || command -v mysql)
sql() {
  MYSQL_PWD=logbook "$bench_client" --protocol=tcp -h "$host" -P 3306 -u logbook --connect-timeout=5 \
    --batch --skip-column-names "$@" </dev/null
}

server_pid=

# A fresh database, `logbook init` with an admin whose password is in $tmp/admin-password, and
# the server's environment (exported, so `logbook backup` sees it too).
bench_init() {
  sql -e "DROP DATABASE IF EXISTS \`$db\`;
          CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
  export LOGBOOK_DATABASE_URL=mysql://logbook:logbook@$host:3306/$db
  export LOGBOOK_DATA_DIR=$tmp/data
  export LOGBOOK_LISTEN=$host:$port
  export LOGBOOK_LOG=${LOGBOOK_BENCH_LOG:-warn}
  export LOGBOOK_DB_WAIT_SECS=10
  export LOGBOOK_SCHEDULER=off
  password_file=$tmp/admin-password
  (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '\n' >"$password_file")
  "$bin" init --org-name "Bench Fire Department" --admin-username admin \
    --admin-email admin@example.org --admin-password-file "$password_file" >/dev/null
}

# Starts the server (log in $tmp/server.log, appended) and waits for /health.
bench_start_server() {
  "$bin" serve >>"$tmp/server.log" 2>&1 &
  server_pid=$!
  local deadline=$((SECONDS + 60))
  until curl -fsS --max-time 2 -o /dev/null "$base/health" 2>/dev/null; do
    if ! kill -0 "$server_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$tmp/server.log" >&2
      die "server did not become healthy on $base"
    fi
    sleep 0.2
  done
}

# Stops the server gracefully, then for good after ten seconds.
bench_stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}

# Through the API: members (member0…), then PATCHes until the audit log has at least
# $2 entries (each member creation audits once), 8 courses and 20 requirements of every kind.
bench_api_data() {
  python3 - "$base" "$password_file" "$1" "$2" <<'PY'
import http.client, json, sys, urllib.parse
base, password_file, members, entries = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
u = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
def call(method, path, body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = "Bearer " + token
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        raise SystemExit(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data) if data else None
token = call("POST", "/api/v1/auth/login",
             {"username": "admin", "password": open(password_file).read()})["access_token"]
ids = []
for n in range(members - 1):
    m = call("POST", "/api/v1/members", {"username": f"member{n}", "email": f"member{n}@example.org",
             "first_name": "Member", "last_name": f"Number {n}"}, token)
    ids.append(m["id"])
made = members - 1  # each creation audits at least once
n = 0
while made < entries:
    call("PATCH", f"/api/v1/members/{ids[n % len(ids)]}", {"station": f"Station {n % 7 + 1}-{n}"}, token)
    made += 1
    n += 1

cat = {c["code"]: c["id"] for c in call("GET", "/api/v1/training/categories", token=token)}
course = {}
for name, code, kind, ctype, hours, months in [
    ("CPR/AED provider", "CPR", "ems", "certification", 4, 24),
    ("EMR recertification", "EMR", "ems", "certification", 16, 24),
    ("Hazmat Operations refresher", "HMO", "hazmat", "certification", 8, 12),
    ("Pump operator", "PO", "driver", "certification", 24, 36),
    ("Fire Officer I", "FO1", "officer", "certification", 40, None),
    ("Firefighter I", "FF1", "recruit", "certification", 160, None),
    ("SCBA fit test", "SCBA", "company", "skills_practice", 1, 12),
    ("Bloodborne pathogens", "BBP", "ems", "refresher", 1.5, 12),
]:
    c = call("POST", "/api/v1/training/courses", {
        "name": name, "code": code, "category_id": cat[kind], "training_type": ctype,
        "duration_hours": hours, "expiration_months": months, "issuing_agency": "State Fire Academy"},
        token)
    course[code] = c["id"]

def hours(name, code, h, period, months=None, ttype=None):
    return {"name": name, "requirement_type": "hours", "category_id": cat[code] if code else None,
            "training_type": ttype, "required_hours": h, "period": period, "rolling_months": months}
requirements = [
    hours("Company training", "company", 192, "annual"),
    hours("Facility training", "facility", 18, "annual"),
    hours("Officer training", "officer", 12, "annual"),
    hours("Driver/operator training", "driver", 12, "annual"),
    hours("Hazmat hours", "hazmat", 6, "annual"),
    hours("Company drills per quarter", "company", 24, "quarterly", ttype="drill"),
    hours("Facility per quarter", "facility", 3, "quarterly"),
    hours("Other per quarter", "other", 4.5, "quarterly"),
    hours("EMS continuing education", "ems", 12, "rolling", 24, "continuing_education"),
    hours("Any training, last 12 months", None, 36, "rolling", 12),
    hours("Driver hours, last 3 years", "driver", 30, "rolling", 36),
    hours("Monthly drill", None, 2, "monthly", ttype="drill"),
]
for name, code in [("CPR/AED current", "CPR"), ("EMR current", "EMR"), ("Hazmat Ops current", "HMO"),
                   ("Pump operator current", "PO")]:
    requirements.append({"name": name, "requirement_type": "certification", "course_ids": [course[code]],
                         "period": "one_time"})
for name, code in [("Annual SCBA fit test", "SCBA"), ("Annual bloodborne pathogens", "BBP")]:
    requirements.append({"name": name, "requirement_type": "courses", "course_ids": [course[code]],
                         "period": "annual"})
requirements.append({"name": "Shifts per quarter", "requirement_type": "shifts", "required_count": 12,
                     "period": "quarterly"})
requirements.append({"name": "Calls per year", "requirement_type": "calls", "required_count": 24,
                     "period": "annual"})
for r in requirements:
    call("POST", "/api/v1/training/requirements", r, token)
PY
}

# $1 training records for all members (round robin), across the categories: mostly drills and
# continuing education, one in ten a shift and one in ten a call (what the shifts and calls
# requirements count), and one in 25 a completion of one of the courses, with its expiration date
# and, for certifications, a certification number. Hours are quarter hours from 0.25 to 8.
bench_training_records() {
  local rows=$1
  sql -D "$db" -e "
SET @org = (SELECT id FROM organizations LIMIT 1);
SET @admin = (SELECT id FROM users WHERE organization_id = @org AND username = 'admin');
SET @courses = (SELECT COUNT(*) FROM training_courses WHERE organization_id = @org);
SET @members = (SELECT COUNT(*) FROM users WHERE organization_id = @org);
SET @categories = (SELECT COUNT(*) FROM training_categories WHERE organization_id = @org);
INSERT INTO training_records (id, organization_id, user_id, course_id, category_id, course_name,
    training_type, completion_date, expiration_date, hours_completed, certification_number,
    issuing_agency, instructor, status, created_by, created_at, updated_at)
SELECT UNHEX(REPLACE(UUID(), '-', '')), @org, u.id, c.id, COALESCE(c.category_id, k.id),
       COALESCE(c.name, CONCAT(k.name, ' session ', s.seq % 97)),
       CASE WHEN c.id IS NOT NULL THEN c.training_type
            WHEN s.r % 10 = 1 THEN 'shift' WHEN s.r % 10 = 2 THEN 'call'
            WHEN s.r % 10 IN (3, 4) THEN 'continuing_education' ELSE 'drill' END,
       s.day,
       CASE WHEN c.expiration_months IS NOT NULL THEN s.day + INTERVAL c.expiration_months MONTH END,
       COALESCE(c.duration_hours, (1 + (s.seq * 7 + s.r) % 32) * 0.25),
       CASE WHEN c.training_type = 'certification' THEN CONCAT(c.code, '-', 100000 + s.seq) END,
       c.issuing_agency, CASE WHEN s.r % 3 = 0 THEN 'Capt. Olsen' END,
       'completed', @admin, TIMESTAMP(s.day, '21:30:00'), TIMESTAMP(s.day, '21:30:00')
  FROM (SELECT seq, seq DIV @members AS r, LEAST(DATE '2016-12-01' + INTERVAL ((seq - 1) * 3651 DIV $rows) DAY,
                          UTC_DATE()) AS day
          FROM seq_1_to_$rows) s
  JOIN (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS n FROM users
         WHERE organization_id = @org) u ON u.n = s.seq % @members
  JOIN (SELECT id, name, ROW_NUMBER() OVER (ORDER BY code) - 1 AS n FROM training_categories
         WHERE organization_id = @org) k ON k.n = s.r % @categories
  LEFT JOIN (SELECT id, name, code, category_id, training_type, duration_hours, expiration_months,
                    issuing_agency, ROW_NUMBER() OVER (ORDER BY code) - 1 AS n
               FROM training_courses WHERE organization_id = @org) c
         ON s.r % 25 = 7 AND c.n = (s.r DIV 25) % @courses"
}
