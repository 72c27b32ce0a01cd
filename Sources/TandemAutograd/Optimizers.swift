import TandemTensor

/// Updates parameters from a `Gradients` value.
///
/// Dense parameters update every element; sparse parameters (embedding tables) update only the rows the batch
/// touched ("lazy" updates, as TensorFlow's LazyAdam and PyTorch's SparseAdam), so a step's cost does not grow
/// with the catalogue. Weight decay on a sparse table also applies to touched rows only.
public final class Optimizer {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case sgd, adam, adamw, adagrad
    }

    public let kind: Kind
    public var learningRate: Float
    /// L2 penalty added to the gradient (SGD, Adam, Adagrad) or decoupled decay (AdamW).
    public var weightDecay: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public let parameters: [Parameter]
    public internal(set) var step = 0
    /// First moments (Adam) or squared-gradient sums (Adagrad), and Adam's second moments, by parameter.
    var first: [ObjectIdentifier: [Float]] = [:]
    var second: [ObjectIdentifier: [Float]] = [:]

    public init(_ kind: Kind, parameters: [Parameter], learningRate: Float, weightDecay: Float = 0) {
        self.kind = kind
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        if kind == .adagrad { epsilon = 1e-10 }
    }

    /// Applies one update to every parameter that received a gradient.
    public func update(_ gradients: Gradients) {
        step += 1
        for p in parameters {
            let key = ObjectIdentifier(p)
            if let g = gradients.dense[key] {
                precondition(g.shape == p.value.shape, "gradient of \(p.name) has shape \(g.shape), parameter \(p.value.shape)")
                apply(p, rows: nil, grad: g)
            } else if let rows = gradients.coalescedRows(of: p) {
                apply(p, rows: rows.indices, grad: rows.values)
            }
        }
    }

    /// Updates all of `p` (`rows == nil`) or only the listed rows, `grad` holding one gradient row per entry.
    private func apply(_ p: Parameter, rows: [Int32]?, grad: Tensor) {
        let key = ObjectIdentifier(p)
        let n = p.value.count
        if kind != .sgd && first[key] == nil { first[key] = [Float](repeating: 0, count: n) }
        if (kind == .adam || kind == .adamw) && second[key] == nil { second[key] = [Float](repeating: 0, count: n) }
        var m = first[key] ?? []
        var v = second[key] ?? []
        first[key] = nil; second[key] = nil
        let d = p.value.cols
        let lr = learningRate, wd = weightDecay, b1 = beta1, b2 = beta2, eps = epsilon
        let c1 = 1 - pow(b1, Float(step)), c2 = 1 - pow(b2, Float(step))
        let kind = self.kind
        p.value.data.withUnsafeMutableBufferPointer { w in
            grad.data.withUnsafeBufferPointer { g in
                m.withUnsafeMutableBufferPointer { m in
                    v.withUnsafeMutableBufferPointer { v in
                        // One contiguous span: parameter elements [wo, wo+len) with gradient elements [go, go+len).
                        func span(_ wo: Int, _ go: Int, _ len: Int) {
                            var start = 0
                            if kind == .adam || kind == .adamw {
                                // Eight at a time: the per-element division and square root dominate a graph model's
                                // step when written scalar. Same operations in
                                // the same order as the scalar loop below, so the results are identical.
                                let wp = UnsafeMutableRawPointer(w.baseAddress! + wo), gp = UnsafeRawPointer(g.baseAddress! + go)
                                let mp = UnsafeMutableRawPointer(m.baseAddress! + wo), vp = UnsafeMutableRawPointer(v.baseAddress! + wo)
                                let vb1 = SIMD8<Float>(repeating: b1), vb2 = SIMD8<Float>(repeating: b2)
                                let va1 = SIMD8<Float>(repeating: 1 - b1), va2 = SIMD8<Float>(repeating: 1 - b2)
                                let vc1 = SIMD8<Float>(repeating: c1), vc2 = SIMD8<Float>(repeating: c2)
                                let vlr = SIMD8<Float>(repeating: lr), veps = SIMD8<Float>(repeating: eps), vwd = SIMD8<Float>(repeating: wd)
                                let vlrwd = SIMD8<Float>(repeating: lr * wd)
                                while start + 8 <= len {
                                    let o = start * MemoryLayout<Float>.stride
                                    var wi = wp.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                                    var gi = gp.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                                    if kind == .adam { gi += vwd * wi } else { wi -= vlrwd * wi }
                                    let mi = vb1 * mp.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + va1 * gi
                                    let vi = vb2 * vp.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self) + va2 * gi * gi
                                    wi -= vlr * (mi / vc1) / ((vi / vc2).squareRoot() + veps)
                                    mp.storeBytes(of: mi, toByteOffset: o, as: SIMD8<Float>.self)
                                    vp.storeBytes(of: vi, toByteOffset: o, as: SIMD8<Float>.self)
                                    wp.storeBytes(of: wi, toByteOffset: o, as: SIMD8<Float>.self)
                                    start += 8
                                }
                            }
                            for k in start..<len {
                                let i = wo + k
                                var gi = g[go + k]
                                switch kind {
                                case .sgd:
                                    gi += wd * w[i]
                                    w[i] -= lr * gi
                                case .adagrad:
                                    gi += wd * w[i]
                                    m[i] += gi * gi
                                    w[i] -= lr * gi / (m[i].squareRoot() + eps)
                                case .adam, .adamw:
                                    if kind == .adam { gi += wd * w[i] } else { w[i] -= lr * wd * w[i] }
                                    m[i] = b1 * m[i] + (1 - b1) * gi
                                    v[i] = b2 * v[i] + (1 - b2) * gi * gi
                                    w[i] -= lr * (m[i] / c1) / ((v[i] / c2).squareRoot() + eps)
                                }
                            }
                        }
                        if let rows {
                            // The rows are distinct (coalesced), so chunks of them update disjoint spans.
                            Parallel.forChunks(rows.count, minPerChunk: max(1, (1 << 16) / max(1, d))) { chunk in
                                for k in chunk { span(Int(rows[k]) * d, k * d, d) }
                            }
                        } else {
                            // Dense updates of large tables (a graph model's 150k × 64 ego embeddings) use every core.
                            Parallel.forChunks(n, minPerChunk: 1 << 16) { r in span(r.lowerBound, r.lowerBound, r.count) }
                        }
                    }
                }
            }
        }
        if kind != .sgd { first[key] = m }
        if kind == .adam || kind == .adamw { second[key] = v }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif
