import Foundation
import TandemTensor

/// Reads and writes named tensors in the safetensors format (readable by Python's `safetensors`): Float32 matrices and
/// vectors, and Int32 vectors (ids and offsets).
public enum SafeTensors {
    public static func encode(_ tensors: [(String, Tensor)], ints: [(String, [Int32])] = [], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, t) in tensors {
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + t.count * 4]]
            offset += t.count * 4
        }
        for (name, v) in ints {
            header[name] = ["dtype": "I32", "shape": [v.count], "data_offsets": [offset, offset + v.count * 4]]
            offset += v.count * 4
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, t) in tensors { t.data.withUnsafeBytes { out.append(contentsOf: $0) } }
        for (_, v) in ints { v.map(\.littleEndian).withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// The Float32 tensors of a file (Int32 entries are read by `decodeInts`).
    public static func decode(_ data: Data, file: String) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for e in try entries(data, file: file) where e.dtype == "F32" {
            guard e.shape.count == 1 || e.shape.count == 2 else {
                throw DataError(file: file, "not a valid safetensors file: entry '\(e.name)' has rank \(e.shape.count), not 1 or 2")
            }
            var values = [Float](repeating: 0, count: e.count)
            values.withUnsafeMutableBytes { dst in _ = data.subdata(in: e.bytes).copyBytes(to: dst) }
            out[e.name] = Tensor(shape: e.shape, data: values)
        }
        return out
    }

    /// The Int32 vectors of a file.
    public static func decodeInts(_ data: Data, file: String) throws -> [String: [Int32]] {
        var out: [String: [Int32]] = [:]
        for e in try entries(data, file: file) where e.dtype == "I32" {
            var values = [Int32](repeating: 0, count: e.count)
            values.withUnsafeMutableBytes { dst in _ = data.subdata(in: e.bytes).copyBytes(to: dst) }
            out[e.name] = values.map { Int32(littleEndian: $0) }
        }
        return out
    }

    /// The file's `__metadata__` string map (empty when it has none).
    public static func decodeMetadata(_ data: Data, file: String) throws -> [String: String] {
        let header = try header(data, file: file).object
        return header["__metadata__"] as? [String: String] ?? [:]
    }

    private struct Entry { let name: String, dtype: String, shape: [Int], count: Int, bytes: Range<Int> }

    /// The JSON header and where the data after it starts.
    private static func header(_ data: Data, file: String) throws -> (object: [String: Any], start: Int) {
        func bad(_ m: String) -> DataError { DataError(file: file, "not a valid safetensors file: \(m)") }
        guard data.count >= 8 else { throw bad("shorter than its 8-byte header length") }
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard n <= UInt64(data.count - 8) else { throw bad("header length \(n) exceeds the file size") }
        let start = 8 + Int(n)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<start)) as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        return (header, start)
    }

    private static func entries(_ data: Data, file: String) throws -> [Entry] {
        func bad(_ m: String) -> DataError { DataError(file: file, "not a valid safetensors file: \(m)") }
        let (header, start) = try header(data, file: file)
        return try header.filter { $0.key != "__metadata__" }.sorted { $0.key < $1.key }.map { name, value in
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String, ["F32", "I32"].contains(dtype),
                  let shape = entry["shape"] as? [Int], let offs = entry["data_offsets"] as? [Int], offs.count == 2 else {
                throw bad("entry '\(name)' is not an F32 or I32 tensor description")
            }
            let count = shape.reduce(1, *)
            guard shape.allSatisfy({ $0 >= 0 }), offs[0] >= 0, offs[1] - offs[0] == count * 4, start + offs[1] <= data.count else {
                throw bad("entry '\(name)' has inconsistent shape \(shape) and offsets \(offs)")
            }
            return Entry(name: name, dtype: dtype, shape: shape, count: count, bytes: (start + offs[0])..<(start + offs[1]))
        }
    }
}

/// Writes NumPy `.npy` files (format 1.0, little-endian float32, C order).
public enum NPY {
    public static func encode(_ t: Tensor) -> Data {
        let shape = t.shape.count == 1 ? "(\(t.shape[0]),)" : "(\(t.shape[0]), \(t.shape[1]))"
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
        while (10 + header.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out = Data([0x93]) + Data("NUMPY".utf8) + Data([1, 0])
        var len = UInt16(header.utf8.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(Data(header.utf8))
        t.data.withUnsafeBytes { out.append(contentsOf: $0) }
        return out
    }
}
