"""rwproto - builds Prometheus remote-write 1.0 request bodies in pure Python
(standard library only) for the integration tests: a protobuf WriteRequest,
hand-encoded, wrapped in a valid snappy *block* made of literal elements only
(any snappy decoder accepts it; it is just not compressed)."""
import struct


def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num, wire, payload):
    return _varint((num << 3) | wire) + payload


def _bytes_field(num, data):
    if isinstance(data, str):
        data = data.encode()
    return _field(num, 2, _varint(len(data)) + data)


def write_request(series):
    """series: list of (labels dict incl. __name__, [(ts_ms, value), ...])."""
    out = bytearray()
    for labels, samples in series:
        ts = bytearray()
        for name in sorted(labels):
            ts += _bytes_field(1, _bytes_field(1, name) + _bytes_field(2, labels[name]))
        for t, v in samples:
            sample = _field(1, 1, struct.pack("<d", v)) + _field(2, 0, _varint(t))
            ts += _bytes_field(2, sample)
        out += _bytes_field(1, bytes(ts))
    return bytes(out)


def snappy_block(data):
    """A snappy block (raw format) holding data as literals."""
    out = bytearray(_varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


def body(series):
    return snappy_block(write_request(series))


HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
