# The commands of the README. Everything runs as local processes; see docker-compose.yml
# for the same system in containers.
.PHONY: up down test test-unit infra infra-down status lint format schemas compose-check

up:            ## PostgreSQL + Kafka + the four services on :8001-8004
	bash scripts/up.sh

down:          ## stop the services, Kafka and PostgreSQL
	bash scripts/down.sh

test:          ## the full suite (unit, integration, e2e) on real PostgreSQL and Kafka
	bash scripts/test.sh

test-unit:     ## pure tests only, no infrastructure
	uv run pytest -m "not integration and not e2e" libs/*/tests/unit services/*/tests/unit

infra:         ## just PostgreSQL and Kafka
	bash scripts/postgres.sh start && bash scripts/kafka.sh start

infra-down:
	bash scripts/kafka.sh stop; bash scripts/postgres.sh stop

status:
	@bash scripts/services.sh status; bash scripts/kafka.sh status; bash scripts/postgres.sh status

lint:
	uv run ruff check . && uv run ruff format --check .
	uv run mypy --no-incremental libs services/*/src tests
	for d in services/*/tests/*/; do uv run mypy $$d || exit 1; done

format:
	uv run ruff check --fix . && uv run ruff format .

schemas:       ## re-export the event JSON Schemas, the catalog and the AsyncAPI document
	uv run crm-events schemas export libs/events/schemas
	uv run crm-events catalog > docs/events.md
	uv run crm-events asyncapi > docs/asyncapi.json

compose-check: ## validate docker-compose.yml without a Docker engine
	bash scripts/check-compose.sh
