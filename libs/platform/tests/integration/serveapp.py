"""`python serveapp.py serve …`: the services' `serve` command on an app that answers with
the process it runs in (no database, no Kafka), for the worker tests."""

import os
import sys
from pathlib import Path

from fastapi import FastAPI

from crm_platform.cli import service_main
from crm_platform.settings import ServiceSettings


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/pid")
    def pid() -> dict[str, int]:
        return {"pid": os.getpid()}

    return app


def settings() -> ServiceSettings:
    # Never connected to: the app has no database.
    return ServiceSettings(service_name="serve-app", database_url="postgresql://-@127.0.0.1/-")


if __name__ == "__main__":
    sys.exit(
        service_main(
            settings_factory=settings,
            app_path="serveapp:create_app",
            migrations_dir=Path(__file__).parent,
            default_port=0,
        )
    )
