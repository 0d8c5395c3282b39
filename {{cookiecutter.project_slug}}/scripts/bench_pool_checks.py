"""What the dead-connection checks and the per-statement timeout cost, per request.

    uv run python scripts/bench_pool_checks.py
    uv run python scripts/bench_pool_checks.py --calls 500 --rounds 3

Figures, not assertions. Each pair runs side by side in one process, alternating in rounds,
so a busy machine slows both alike: a check that costs nothing shows the same figure on both
lines. The pairs of each driver this service has (`settings.DRIVERS`) are in
scripts/pool_checks_<driver>.py. Uses DATABASE_URL if set, else an embedded PostgreSQL in a
temporary directory.
"""

import argparse
import importlib
import statistics

from bench import migrated_database  # scripts/ is on sys.path when a script in it runs

from {{ cookiecutter.package_name }}.settings import DRIVERS


def row(name: str, figures: list[float]) -> None:
    print(f"{name:<62} median {statistics.median(figures):7.1f} us  (min {min(figures):.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per figure per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, the pair taking turns")
    options = parser.parse_args()
    if options.calls < 1 or options.rounds < 1:
        parser.error("--calls and --rounds must be at least 1")
    # Loaded by name: a driver's module is absent from a service without that driver.
    checks = [importlib.import_module(f"pool_checks_{driver}") for driver in DRIVERS]
    with migrated_database() as url:
        print(f"{options.calls} calls x {options.rounds} rounds, microseconds per call")
        for check in checks:
            figures: dict[str, list[float]] = check.pairs(url, options.calls, options.rounds)
            for name, measured in figures.items():
                row(name, measured)


if __name__ == "__main__":
    main()
