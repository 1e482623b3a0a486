# The monitor's image: one image for every service of docker-compose.yml
# (`monitor db upgrade`, `monitor run`, `monitor dashboard`) and for operating
# it (`monitor health`, `monitor db backup` / `restore`).
#
#   docker build -t market-impact-monitor .
#   docker run --rm market-impact-monitor monitor run --once     # the demo on SQLite, inside the container
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# pg_dump, pg_restore and psql for `monitor db backup` / `restore`. Debian
# bookworm's client is PostgreSQL 15, and pg_dump refuses a newer server: the
# compose file's PostgreSQL is 15 too.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*

# A user of its own; its home holds what the monitor writes (digests, backups,
# a SQLite store when no database is configured).
RUN groupadd --system --gid 10001 monitor \
 && useradd --system --uid 10001 --gid monitor --home-dir /var/lib/monitor --shell /usr/sbin/nologin monitor \
 && install -d -o monitor -g monitor -m 0750 /var/lib/monitor /var/lib/monitor/digests /var/lib/monitor/backups

# The project as pyproject.toml describes it (its dependencies, no test or
# benchmark extras), and the bundled data the first pass reads.
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor/ monitor/
COPY dashboards/ dashboards/
COPY seeds/ seeds/
RUN pip install . \
 && monitor --version

ENV MONITOR_SEEDS_DIR=/app/seeds \
    MONITOR_DIGEST_DIR=/var/lib/monitor/digests

USER 10001:10001
WORKDIR /var/lib/monitor
EXPOSE 8050
CMD ["monitor", "run"]
