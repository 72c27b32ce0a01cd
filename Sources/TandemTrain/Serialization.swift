import Foundation
import TandemTensor
import TandemData

/// Reads and writes named Float32 tensors in the safetensors format (readable by Python's `safetensors`).
public enum SafeTensors {
    public static func encode(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for (name, t) in tensors {
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + t.count * 4]]
            offset += t.count * 4
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, t) in tensors { t.data.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    public static func decode(_ data: Data, file: String) throws -> [String: Tensor] {
        func bad(_ m: String) -> DataError { DataError(file: file, "not a valid safetensors file: \(m)") }
        guard data.count >= 8 else { throw bad("shorter than its 8-byte header length") }
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard n <= UInt64(data.count - 8) else { throw bad("header length \(n) exceeds the file size") }
        let start = 8 + Int(n)
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<start)) as? [String: Any] else {
            throw bad("header is not a JSON object")
        }
        var out: [String: Tensor] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], entry["dtype"] as? String == "F32",
                  let shape = entry["shape"] as? [Int], let offs = entry["data_offsets"] as? [Int], offs.count == 2 else {
                throw bad("entry '\(name)' is not an F32 tensor description")
            }
            let count = shape.reduce(1, *)
            guard offs[1] - offs[0] == count * 4, start + offs[1] <= data.count, shape.count == 1 || shape.count == 2 else {
                throw bad("entry '\(name)' has inconsistent shape \(shape) and offsets \(offs)")
            }
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { dst in _ = data.subdata(in: (start + offs[0])..<(start + offs[1])).copyBytes(to: dst) }
            out[name] = Tensor(shape: shape, data: values)
        }
        return out
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
