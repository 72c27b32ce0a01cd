/// Vectorised row kernels. Written with SIMD8 arithmetic only (`a * b + c`, min/max, bit casts), which compiles to
/// packed SSE/AVX instructions on the baseline target; no libm call per lane.
public enum VectorMath {
    /// e^x for eight lanes: Cephes' range reduction and degree-6 polynomial (relative error about 2e-7 for
    /// |x| < 87; inputs are clamped to the finite range, so −∞ gives ≈ 0).
    @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // Clamped with compares and blends: `clamped(lowerBound:upperBound:)` compiled to calls of the standard
        // library's lane-by-lane pointwiseMin/Max (3.6× slower in isolation). NaN still maps to the lower bound.
        let lo = SIMD8<Float>(repeating: -87.3), hi = SIMD8<Float>(repeating: 88.3)
        let low = x.replacing(with: lo, where: .!(x .>= lo))
        let cx = low.replacing(with: hi, where: low .> hi)
        // Round to nearest with the 1.5·2²³ trick (no roundps needed).
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = cx * 1.442_695_04 + magic   // bit pattern 0x4B40_0000 + n
        let n = shifted - magic
        let r = cx - n * 0.693_359_375 + n * 2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        p = p * (r * r) + r + 1
        let bits = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        return p * unsafeBitCast(bits, to: SIMD8<Float>.self)
    }

    /// Scalar e^x through the same polynomial (the tail of a row that is not a multiple of 8).
    @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(SIMD8<Float>(repeating: x))[0] }

    /// Writes `exp(x[j] − shift)` to `out[j]` for `j < d` and returns their sum.
    @inline(__always)
    public static func expShiftedSum(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count d: Int, shift: Float) -> Float {
        var acc = SIMD8<Float>(repeating: 0)
        var j = 0
        let s = SIMD8<Float>(repeating: shift)
        let rx = UnsafeRawPointer(x), ro = UnsafeMutableRawPointer(out)
        while j + 8 <= d {
            let e = exp(rx.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - s)
            ro.storeBytes(of: e, toByteOffset: j * 4, as: SIMD8<Float>.self)
            acc += e
            j += 8
        }
        var total = acc.sum()
        while j < d { let e = exp(x[j] - shift); out[j] = e; total += e; j += 1 }
        return total
    }

    /// The largest of `x[0..<d]` (−∞ for an empty row).
    @inline(__always)
    public static func max(_ x: UnsafePointer<Float>, count d: Int) -> Float {
        var acc = SIMD8<Float>(repeating: -.infinity)
        var j = 0
        let rx = UnsafeRawPointer(x)
        while j + 8 <= d {  // a compare and a blend (`pointwiseMax` was a call per vector, 6× slower); NaN is skipped
            let v = rx.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            acc = acc.replacing(with: v, where: v .> acc)
            j += 8
        }
        var m = acc.max()
        while j < d { if x[j] > m { m = x[j] }; j += 1 }
        return m
    }

    /// `x[0] + … + x[d−1]`, eight partial sums at a time (a plain `reduce(0, +)` is one serial add chain).
    @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, count d: Int) -> Float {
        var acc0 = SIMD8<Float>(repeating: 0), acc1 = SIMD8<Float>(repeating: 0)
        var j = 0
        let rx = UnsafeRawPointer(x)
        while j + 16 <= d {
            acc0 += rx.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            acc1 += rx.loadUnaligned(fromByteOffset: j * 4 + 32, as: SIMD8<Float>.self)
            j += 16
        }
        var total = (acc0 + acc1).sum()
        while j < d { total += x[j]; j += 1 }
        return total
    }

    /// `x[0]² + … + x[d−1]²`: `dot(x, x)`.
    @inline(__always)
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count d: Int) -> Float { dot(x, x, count: d) }

    /// `x · y` over `d` elements, eight partial sums at a time.
    @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count d: Int) -> Float {
        var acc0 = SIMD8<Float>(repeating: 0), acc1 = SIMD8<Float>(repeating: 0)
        var j = 0
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        while j + 16 <= d {
            acc0 += rx.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) * ry.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            acc1 += rx.loadUnaligned(fromByteOffset: j * 4 + 32, as: SIMD8<Float>.self) * ry.loadUnaligned(fromByteOffset: j * 4 + 32, as: SIMD8<Float>.self)
            j += 16
        }
        var total = (acc0 + acc1).sum()
        while j < d { total += x[j] * y[j]; j += 1 }
        return total
    }

    /// `out[j] *= s` for `j < d`.
    @inline(__always)
    public static func scale(_ out: UnsafeMutablePointer<Float>, count d: Int, by s: Float) {
        for j in 0..<d { out[j] *= s }
    }
}
