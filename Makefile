# Bootstraps its own tools: needs only python3, git and make.
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
DEMO ?= demo-project

.PHONY: help dev demo test test-fast lint bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet uv

dev: $(UV) ## Create .venv with the template's test tools
	$(UV) sync --quiet

demo: dev ## Generate a project with every default into ./$(DEMO) and run its pipeline
	@if [ -e "$(DEMO)" ]; then echo "$(DEMO) exists; remove it or pass DEMO=<dir>" >&2; exit 2; fi
	.venv/bin/copier copy --trust --defaults --vcs-ref HEAD . "$(DEMO)"
	cd "$(DEMO)" && git init --quiet && PATH="$(CURDIR)/.venv/bin:$$PATH" \
		$(MAKE) install-dev data-process train evaluate
	@echo "Done: see $(DEMO)/reports/metrics.json"

test: dev ## Run the whole test suite, build tests included
	.venv/bin/pytest -n auto

test-fast: dev ## Run the tests that do not install generated projects
	.venv/bin/pytest -n auto -m "not build"

lint: dev ## Lint this repository
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

bench: dev ## Measure copy time and time to first green (see docs/performance.md)
	.venv/bin/python bench/run.py
