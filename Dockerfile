# One image for every dsp-mesh process: `python -m services.<name>`, `python -m infra topics`, the SMS sink and the
# demo laboratory (compose.yaml builds it once, as dsp-mesh:local). Runs as the non-root user dsp.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH \
    UV_NO_CACHE=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
WORKDIR /app
COPY pyproject.toml uv.lock ./
# uv pinned, from PyPI; the lock's runtime packages only (no dev group: no test tools such as selenium); no pip
# or uv cache left; uv itself removed after.
RUN pip install --no-cache-dir uv==0.13.9 \
 && uv sync --frozen --no-dev --no-install-project \
 && pip uninstall --yes uv \
 && rm -rf /root/.cache
COPY schemas ./schemas
COPY services ./services
COPY infra ./infra
COPY demo ./demo
# dsp has a home (the tools that want one find it) and owns /letters, notify's letters volume: a named volume
# mounted there starts with this folder's owner.
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/dsp --shell /usr/sbin/nologin dsp \
 && install --directory --owner dsp --group dsp --mode 0750 /letters
USER dsp
ENV HOME=/home/dsp DSP_HTTP_HOST=0.0.0.0
