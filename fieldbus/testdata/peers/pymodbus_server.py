#!/usr/bin/python3
"""Modbus TCP server built on pymodbus that serves points described in a JSON file.

Usage: pymodbus_server.py SPEC.json

SPEC is {"port": N, "unit": U, "points": [{"table": "holding|input|coil|discrete",
"address": A, "type": "u16|i16|u32|i32|u64|i64|f32|f64|bool", "byte_order":
"big|little", "word_order": "high_first|low_first", "raw": NUMBER}, ...]}.
Each point's raw value is laid out by pymodbus's own BinaryPayloadBuilder, so the
register layout comes from a Modbus implementation other than gridd's. Every other
register reads 0. The server answers only unit U and prints "listening" once bound.
"""
import asyncio
import json
import sys

from pymodbus.constants import Endian
from pymodbus.datastore import (
    ModbusSequentialDataBlock,
    ModbusServerContext,
    ModbusSlaveContext,
)
from pymodbus.payload import BinaryPayloadBuilder
from pymodbus.server.async_io import StartAsyncTcpServer

ADDERS = {
    "u16": "add_16bit_uint",
    "i16": "add_16bit_int",
    "u32": "add_32bit_uint",
    "i32": "add_32bit_int",
    "u64": "add_64bit_uint",
    "i64": "add_64bit_int",
    "f32": "add_32bit_float",
    "f64": "add_64bit_float",
}


def registers(point):
    builder = BinaryPayloadBuilder(
        byteorder=Endian.Little if point.get("byte_order") == "little" else Endian.Big,
        wordorder=Endian.Little if point.get("word_order") == "low_first" else Endian.Big,
    )
    kind = point["type"]
    raw = point["raw"]
    if kind not in ADDERS:
        raise ValueError(f"unknown type {kind!r}")
    getattr(builder, ADDERS[kind])(float(raw) if kind.startswith("f") else int(raw))
    return builder.to_registers()


async def main(spec_path):
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    blocks = {t: ModbusSequentialDataBlock(0, [0] * 65536) for t in ("co", "di", "hr", "ir")}
    table_key = {"coil": "co", "discrete": "di", "holding": "hr", "input": "ir"}
    for point in spec["points"]:
        block = blocks[table_key[point["table"]]]
        if point["table"] in ("coil", "discrete"):
            block.setValues(point["address"], [bool(point["raw"])])
        else:
            block.setValues(point["address"], registers(point))
    slave = ModbusSlaveContext(zero_mode=True, **blocks)
    context = ModbusServerContext(slaves={spec["unit"]: slave}, single=False)
    server = await StartAsyncTcpServer(
        context=context, address=("127.0.0.1", spec["port"]), defer_start=True
    )
    task = asyncio.create_task(server.serve_forever())
    await server.serving
    print("listening", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
