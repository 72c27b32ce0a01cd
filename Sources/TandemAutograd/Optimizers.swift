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
    public private(set) var step = 0
    private var first: [ObjectIdentifier: [Float]] = [:]
    private var second: [ObjectIdentifier: [Float]] = [:]

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
                            for k in 0..<len {
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
                            for (k, r) in rows.enumerated() { span(Int(r) * d, k * d, d) }
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
