# dsp-mesh — the two commands: `make run` (whole mesh + demo data) and `make test` (lint, types, all tests).
SHELL := /bin/bash
export UV_PROJECT_ENVIRONMENT ?= $(HOME)/.cache/dsp-mesh/venv
# mypy's cache outside the clone, like the venv's: a fresh clone type-checks warm
export MYPY_CACHE_DIR ?= $(HOME)/.cache/dsp-mesh/mypy
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: run test docs docs-pages dotenv down status infra lint schemas inbox pro-assertion fhir-token bench-ingest bench-access bench-access-http bench-login bench-search bench-portal bench-fhir chaos uv deps browser haproxy postgresql

uv:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet --user uv
deps: uv
	@$(UV) sync --frozen --quiet

# REPLICAS=2: two of every service behind HAProxy on the same ports (infra/fleet.py, docs/fleet.md)
REPLICAS ?= $(or $(DSP_REPLICAS),1)
run: deps $(if $(filter-out 1,$(REPLICAS)),haproxy)  ## infrastructure + every worker + a demo laboratory, until Ctrl-C (REPLICAS=2: a fleet)
	@DSP_REPLICAS=$(REPLICAS) $(UV) run --frozen python -m infra run

down: deps  ## stop workers and infrastructure started by `make run` / `make infra`
	@$(UV) run --frozen python -m infra down

status: deps
	@$(UV) run --frozen python -m infra status

infra: deps  ## infrastructure only (Kafka + FerretDB), left running
	@$(UV) run --frozen python -m infra up

lint: deps  ## ruff, mypy, and import-linter (.importlinter: each service the only door to its own data)
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports --no-cache

schemas: deps  ## regenerate schemas/json and schemas/asyncapi.yaml from the code
	$(UV) run --frozen python -m schemas.export

browser:  ## Debian's chromium + chromedriver for the console's browser test (installed once, if missing)
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	   chromium chromium-driver >/dev/null)

haproxy:  ## Debian's HAProxy, the load balancer of `make run REPLICAS=2` and of the fleet test (installed once, if missing)
	@command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	   haproxy >/dev/null)

postgresql:  ## Debian's PostgreSQL server programs, for make bench-access's SpiceDB (installed once, if missing)
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	   postgresql >/dev/null)

# TEST_WORKERS: parallel pytest workers, each with its own Kafka + FerretDB (tests/conftest.py); 0 = one process.
# Measured on this 2-core machine the same day: two workers 1,177 s of pytest, one process 1,579 s. One per core, up
# to four (each world holds a Kafka and a FerretDB: ~1.5 GiB).
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n >= 4 ? 4 : n >= 2 ? n : 0 )))
test: deps browser haproxy lint docs  ## everything CI runs
	$(UV) run --frozen pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The docs site (MkDocs + Material, offline): strict, so a broken link or anchor fails; into build/site (not in git).
# NO_MKDOCS_2_WARNING quiets Material's end-of-life banner (read in docs/dependencies.md).
docs: deps  ## the documentation site into build/site (mkdocs build --strict)
	NO_MKDOCS_2_WARNING=1 $(UV) run --frozen mkdocs build --strict --quiet --site-dir build/site

docs-pages: deps  ## regenerate the docs' generated pages: OpenAPI, the routes table, one page per topic
	$(UV) run --frozen python -m infra.docs_site

dotenv: deps  ## a Docker host's .env: every secret compose.yaml demands, written once (mode 600)
	@$(UV) run --frozen python -m infra.dotenv

inbox: deps  ## the demo patient's activation letter (with its code) and the one-time codes e-mailed to her
	@$(UV) run --frozen python -m demo.inbox $(if $(CHILD),--child $(CHILD))

pro-assertion: deps  ## a fresh identity-provider assertion for a demo professional, to paste at /pro/login (PRO=PRO-1000)
	@$(UV) run --frozen python -m demo.idp $(or $(PRO),PRO-1000)

fhir-token: deps  ## a 5-minute FHIR API token for a demo doctor, as a practice's software gets one (PRO=PRO-1000)
	@$(UV) run --frozen python -m demo.fhir_client $(or $(PRO),PRO-1000)

bench-ingest: deps  ## records' ingest rate and latency vs a raw and a same-shape insert_many baseline (COUNT=50000)
	$(UV) run --frozen python -m bench.ingest --count $(or $(COUNT),50000)

bench-search: deps  ## a patient's keyword search over HTTP, 200 000 documents over 20 000 patients, vs a raw _id lookup
	$(UV) run --frozen python -m bench.search

bench-login: deps  ## complete logins (password + one-time code) per second on a real activation worker (RATE=40)
	$(UV) run --frozen python -m bench.login --rate $(or $(RATE),40)

bench-portal: deps  ## the portal's pages under a crowd: SESSIONS logged-in patients (200), open loop at RATES page views/s
	$(UV) run --frozen python -m bench.portal --sessions $(or $(SESSIONS),200) $(if $(RATES),--rates $(RATES))

bench-access: deps postgresql  ## access decisions: in memory (1 000 000 grants), then over HTTP beside SpiceDB on PostgreSQL at 250-2000/s
	$(UV) run --frozen python -m bench.access
	$(UV) run --frozen python -m bench.access.versus

bench-access-http: deps  ## access decisions over HTTP on a real worker at one rate, with the worker's time split (RATE=2000)
	$(UV) run --frozen python -m bench.access.http --rate $(or $(RATE),2000)

bench-fhir: deps  ## the FHIR door: a 1 000-document export over HTTP, DocumentReference searches at RATE/s on 200 000 documents (RATE=100)
	$(UV) run --frozen python -m bench.fhir --rate $(or $(RATE),100)

chaos: deps  ## SIGKILLs, FerretDB and Kafka restarts under a realistic flow; exit 0 only if nothing was lost, doubled or changed (COUNT=30000 RATE=100)
	$(UV) run --frozen python -m bench.chaos --count $(or $(COUNT),30000) --rate $(or $(RATE),100)
