# One image for every rollcall process: pick it with the command, e.g.
#   docker run rollcall python -m registration_service
# Build: docker build -t rollcall .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY protos protos
RUN python - <<'PY' > /tmp/requirements.txt
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))
PY
RUN pip install --no-cache-dir --prefix=/install -r /tmp/requirements.txt
# Generated code is built into the image, never committed.
RUN pip install --no-cache-dir "grpcio-tools==1.85.1" "mypy-protobuf==5.1.0" \
 && GOOGLE=$(PYTHONPATH=/install/lib/python3.11/site-packages python -c "import pathlib, google.api.annotations_pb2 as m; print(pathlib.Path(m.__file__).parents[2])") \
 && mkdir -p gen \
 && python -m grpc_tools.protoc -Iprotos -I"$GOOGLE" --python_out=gen --grpc_python_out=gen \
      $(cd protos && find rollcall -name '*.proto') \
 && find gen/rollcall -type d -exec touch {}/__init__.py \;
COPY common common
COPY registration_service registration_service
COPY attendance_service attendance_service
COPY gateway gateway
COPY zoom_emulator zoom_emulator
COPY rollcall_cli rollcall_cli
RUN pip install --no-cache-dir --no-deps --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /app rollcall
COPY --from=build /install /usr/local
WORKDIR /app
USER 10001
ENV PYTHONUNBUFFERED=1 ROLLCALL_BIND_HOST=0.0.0.0
EXPOSE 50051 50052 8080 9090
CMD ["python", "-m", "gateway"]
