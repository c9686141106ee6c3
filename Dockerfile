# syntax=docker/dockerfile:1
# Catalogue PDI: the API served by uvicorn on :8000; the entrypoint migrates the database first.
#   docker build -t catalogue-pdi .   (or `docker compose up --build`, see docker-compose.yml)
# PYTHON_IMAGE: the official image by default; `make image-base` builds a stand-in from Debian's
# packages for machines that reach no image registry (`make image PYTHON_IMAGE=...` uses it).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PDI_ENV=production

# The source tree stays here: app/core/config.py finds alembic.ini, migrations/ and var/ in the
# directory that holds app/, which an editable install keeps at /srv/pdi (a regular install
# would move app/ into site-packages, away from migrations/).
WORKDIR /srv/pdi

# Dependencies first, from pyproject.toml within constraints.txt, so that a code change reuses this layer.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY alembic.ini ./
COPY migrations ./migrations
COPY seed ./seed
COPY app ./app
COPY --chmod=755 docker/entrypoint.sh docker/migrate.py ./docker/
RUN pip install --no-cache-dir --no-deps -e . \
    && groupadd --system --gid 10001 pdi \
    && useradd --system --uid 10001 --gid pdi --no-create-home --home-dir /srv/pdi --shell /usr/sbin/nologin pdi \
    && mkdir -p var \
    && chown pdi:pdi var

# The code stays root-owned and read-only for the process; only var/ is writable.
USER 10001:10001

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]

ENTRYPOINT ["/srv/pdi/docker/entrypoint.sh"]
# Behind a reverse proxy in another container, set FORWARDED_ALLOW_IPS to its address so that
# --proxy-headers trusts its X-Forwarded-* headers (uvicorn trusts 127.0.0.1 only by default).
# --no-server-header: no banner naming the server software. --http h11 with a cap on the request
# head (PDI_MAX_HEADER_BYTES' default): httptools, uvicorn's other parser, buffers any header.
CMD ["uvicorn", "app.main:app", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers", "--no-server-header", \
     "--http", "h11", "--h11-max-incomplete-event-size", "32768", "--timeout-keep-alive", "5"]
