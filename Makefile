# Bootstraps its own tools: needs only python3, git and make.
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
DEMO ?= demo-project

.PHONY: help dev demo test test-fast lint bench fleet rollout adopt

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'

# Silent, so that `make fleet FORMAT=json > fleet.json` writes the report alone.
$(UV):
	@python3 -m venv $(TOOLS)
	@$(TOOLS)/bin/python -m pip install --quiet uv

dev: $(UV) ## Create .venv with the template's test tools
	@$(UV) sync --quiet

# `make demo` generates from the newest release tag (v*, in PEP 440 order, pre-releases
# left out, as `copier copy` picks), or from HEAD in a clone that has none (CI clones
# carry no tags). DEMO_REF=<tag or commit> picks another.
DEMO_REF ?= $(shell .venv/bin/python -c 'import re, subprocess; \
	from packaging.version import Version; \
	tags = subprocess.run(["git", "tag", "--list", "v*"], capture_output=True, text=True).stdout.split(); \
	releases = [tag for tag in tags if re.fullmatch(r"v[0-9]+(\.[0-9]+)*(\.post[0-9]+)?", tag)]; \
	print(max(releases, key=lambda tag: Version(tag[1:]), default="HEAD"))')
comma := ,
DEMO_FROM = $(DEMO_REF)$(if $(filter HEAD,$(DEMO_REF)), (this clone has no release tag)$(comma) $(shell git rev-parse --short HEAD),$(comma) the newest release tag)

demo: dev ## Generate ./$(DEMO) from the newest release (HEAD without tags) and run its pipeline
	@if [ -e "$(DEMO)" ]; then echo "$(DEMO) exists; remove it or pass DEMO=<dir>" >&2; exit 2; fi
	@echo "Generating $(DEMO) from $(DEMO_FROM)"
	.venv/bin/copier copy --trust --defaults --vcs-ref "$(DEMO_REF)" "$(CURDIR)" "$(DEMO)"
	git -C "$(DEMO)" init --quiet
	PATH="$(CURDIR)/.venv/bin:$$PATH" $(MAKE) -C "$(DEMO)" install-dev data-process train evaluate
	@echo "Done: see $(DEMO)/reports/metrics.json ($(DEMO) is from $(DEMO_REF))"

test: dev ## Run the whole test suite, build tests included
	.venv/bin/pytest -n auto

test-fast: dev ## Run the tests that do not install generated projects
	.venv/bin/pytest -n auto -m "not build"

lint: dev ## Lint this repository
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench: dev ## Measure copy time and time to first green (see docs/performance.md)
	.venv/bin/python bench/run.py

# The platform team's tools (docs/org-rollout.md, docs/adopting.md). GNU make ends with
# status 2 whenever a recipe fails: scripts that tell "behind" (2) from "unreadable" (1)
# run `.venv/bin/python -m fleet report` itself.
FORMAT ?= table
BATCH ?= 20
fleet: dev ## Report on every repository in REPOS=<file> (FORMAT=table|json|markdown|html)
	@test -n "$(REPOS)" || { echo "usage: make fleet REPOS=<file> [FORMAT=table|json|markdown|html]" >&2; exit 2; }
	@.venv/bin/python -m fleet report --format "$(FORMAT)" "$(REPOS)"

rollout: dev ## Ask every repository in REPOS=<file> to run its template update (DRY_RUN=1 lists)
	@test -n "$(REPOS)" || { echo "usage: make rollout REPOS=<file> [DRY_RUN=1] [BATCH=20]" >&2; exit 2; }
	@.venv/bin/python -m fleet rollout --batch-size "$(BATCH)" $(if $(DRY_RUN),--dry-run) "$(REPOS)"

adopt: dev ## Bring the repository at REPO=<path> under the template, in a branch
	@test -n "$(REPO)" || { echo "usage: make adopt REPO=<path> [ARGS=\"--tier large ...\"]" >&2; exit 2; }
	@.venv/bin/python -m fleet adopt $(ARGS) "$(REPO)"
