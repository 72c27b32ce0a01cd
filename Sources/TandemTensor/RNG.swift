/// A seeded xoshiro256** generator: the same seed gives the same stream on every platform.
public struct RNG: RandomNumberGenerator, Sendable {
    @usableFromInline var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var sm = seed
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(&sm), splitmix(&sm), splitmix(&sm), splitmix(&sm))
    }

    /// The generator at an exact position: `words` as read from another generator's `words`.
    public init(words: [UInt64]) {
        precondition(words.count == 4)
        s = (words[0], words[1], words[2], words[3])
    }

    /// The generator's position (its four state words): saved by checkpoints.
    public var words: [UInt64] { [s.0, s.1, s.2, s.3] }

    @inlinable @inline(__always) static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    @inlinable public mutating func next() -> UInt64 {
        let result = RNG.rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = RNG.rotl(s.3, 45)
        return result
    }

    /// Uniform in [0, 1).
    @inlinable public mutating func uniform() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }
    /// Uniform in [0, 1) with double precision.
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * (1.0 / Double(1 << 53)) }
    /// Uniform integer in `0..<n` (Lemire's method, unbiased).
    @inlinable public mutating func int(below n: Int) -> Int {
        precondition(n > 0)
        return Int(next(upperBound: UInt64(n)))
    }
    /// Standard normal (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = max(uniformDouble(), 1e-300), u2 = uniformDouble()
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }
    /// A derived, independent generator (for per-thread or per-component streams).
    public mutating func split() -> RNG { RNG(seed: next()) }

    /// Fisher–Yates shuffle in place.
    @inlinable public mutating func shuffle<T>(_ a: inout [T]) {
        if a.count < 2 { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = int(below: i + 1)
            if i != j { a.swapAt(i, j) }
        }
    }

    /// A tensor of i.i.d. normal values scaled by `std`.
    public mutating func normalTensor(shape: [Int], std: Float) -> Tensor {
        var t = Tensor(zeros: shape)
        for i in t.data.indices { t.data[i] = normal() * std }
        return t
    }

    /// A tensor of i.i.d. uniform values in `[-bound, bound)`.
    public mutating func uniformTensor(shape: [Int], bound: Float) -> Tensor {
        var t = Tensor(zeros: shape)
        for i in t.data.indices { t.data[i] = (uniform() * 2 - 1) * bound }
        return t
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Foundation
@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Foundation.cos(x) }
#endif
