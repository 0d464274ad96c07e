import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from .test_schemathesis import CASES

    if CASES:
        total = sum(CASES.values())
        terminalreporter.write_line(
            f"schemathesis: {total} test cases ("
            + ", ".join(f"{name} {count}" for name, count in sorted(CASES.items()))
            + ")"
        )
