import TandemTensor
import TandemAutograd
import TandemData

/// LightGCN (He et al., SIGIR 2020) and its contrastive family on the user–item graph.
///
/// Ego embeddings `E⁰` (users, then items) are propagated `K` times by the normalised adjacency,
/// `E^{k+1} = Â E^k`, and read out as the layer mean. The contrastive variants add a view-vs-view InfoNCE on the
/// batch's users and items (weight `clWeight`, temperature `clTemperature`):
/// - **SGL** (Wu et al., SIGIR 2021): two graph views per epoch by edge dropout, node dropout, or random walk
///   (a fresh edge dropout per layer), re-normalised.
/// - **SimGCL** (Yu et al., SIGIR 2022): views by adding `ε`-scaled random unit noise, sign-aligned with each
///   layer's output; the readout skips the ego layer, as in the paper.
/// - **XSimGCL** (Yu et al., TKDE 2023): one perturbed pass; layer `clLayer`'s output is contrasted with the final
///   readout, which also feeds the main loss.
/// - **SGL with attribute masking** (`am`, GraphCL's augmentation for graphs with node features): each node's ego
///   embedding is its id row plus a linear map of its side features; the two views mask feature fields per node
///   (ratio `dropRatio`, drawn per epoch) and keep every edge.
public final class GraphModel: RetrievalModel {
    public enum Variant: Sendable, Equatable {
        case lightGCN
        case sgl(SGLAugmentation)
        case simGCL
        case xSimGCL
    }

    public enum SGLAugmentation: String, Sendable, Codable, CaseIterable { case ed, nd, rw, am }

    public struct Settings: Sendable {
        public var layers = 3
        /// L2 penalty on the batch's ego embeddings (LightGCN's regulariser), per example.
        public var regularization: Float = 1e-4
        public var clWeight: Float = 0.1
        public var clTemperature: Float = 0.2
        /// SimGCL/XSimGCL noise magnitude ε.
        public var noise: Float = 0.1
        /// SGL dropout ratio ρ.
        public var dropRatio: Double = 0.1
        /// XSimGCL: the layer (1-based) contrasted with the final readout.
        public var clLayer = 1
        public init() {}
    }

    public let variant: Variant
    public let settings: Settings
    public let graph: BipartiteGraph
    public let ego: Parameter
    /// Side-feature encoders (no id field, no hidden layer: fields → d), added to the id rows; nil without features.
    public let userFeatures: Tower?, itemFeatures: Tower?
    public let adjacency: CSRMatrix
    private var views: [[CSRMatrix]] = []
    /// Attribute masking: per view, the user and item field masks (`[n, fields]`, 1 keep / 0 mask) of this epoch.
    public private(set) var featureViews: [(users: Tensor?, items: Tensor?)] = []
    private var cache: (tape: ObjectIdentifier, final: Variable)?
    private var rng: RNG

    /// `userFeatures`/`itemFeatures`: side features that enter the ego embeddings (nil or no fields: ids alone).
    public init(graph: BipartiteGraph, dim: Int, variant: Variant, settings: Settings, userFeatures: FeatureSet? = nil,
                itemFeatures: FeatureSet? = nil, rng: inout RNG) {
        self.graph = graph
        self.variant = variant
        self.settings = settings
        // Xavier-normal-like initialisation as in the reference implementations.
        ego = Parameter("graph.ego", rng.normalTensor(shape: [graph.nodes, dim], std: 0.1))
        func encoder(_ name: String, _ features: FeatureSet?, _ entities: Int) -> Tower? {
            guard let features, !features.fields.isEmpty else { return nil }
            return Tower(name, entities: entities, features: features, idDim: dim, fieldDim: dim, hidden: [], outputDim: dim,
                         dropout: 0, useIds: false, rng: &rng)
        }
        self.userFeatures = encoder("graph.user_features", userFeatures, graph.users)
        self.itemFeatures = encoder("graph.item_features", itemFeatures, graph.items)
        adjacency = graph.normalizedAdjacency()
        self.rng = rng.split()
    }

    public var parameters: [Parameter] { [ego] + (userFeatures?.parameters ?? []) + (itemFeatures?.parameters ?? []) }
    public var hasFeatures: Bool { userFeatures != nil || itemFeatures != nil }
    public var computesAllRowsAtOnce: Bool { true }

    /// SGL draws its two graph views once per epoch.
    public func beginEpoch() {
        guard case .sgl(let aug) = variant else { return }
        views = (0..<2).map { _ in
            switch aug {
            case .ed: return Array(repeating: graph.edgeDropout(ratio: settings.dropRatio, rng: &rng), count: settings.layers)
            case .nd: return Array(repeating: graph.nodeDropout(ratio: settings.dropRatio, rng: &rng), count: settings.layers)
            case .rw: return (0..<settings.layers).map { _ in graph.edgeDropout(ratio: settings.dropRatio, rng: &rng) }
            case .am: return Array(repeating: adjacency, count: settings.layers)
            }
        }
        if aug == .am {
            func mask(_ tower: Tower?, _ n: Int) -> Tensor? {
                tower.map { t in
                    Tensor(shape: [n, t.fieldCount], data: (0..<(n * t.fieldCount)).map { _ in rng.uniform() < Float(settings.dropRatio) ? 0 : 1 })
                }
            }
            featureViews = (0..<2).map { _ in (mask(userFeatures, graph.users), mask(itemFeatures, graph.items)) }
        }
    }

    /// `E⁰`: the id rows, plus each node's encoded side features when the model has them (`masks`: an attribute-
    /// masking view's field masks). Without masks, cached per tape.
    public func egoEmbeddings(_ tape: Tape, masks: (users: Tensor?, items: Tensor?)? = nil) -> Variable {
        if masks == nil, let c = egoCache, c.tape == ObjectIdentifier(tape) { return c.ego }
        var out = tape.parameter(ego)
        if hasFeatures {
            // One lookup of every node's fields per tape, shared by the unmasked E⁰ and both views.
            if featureCache?.tape != ObjectIdentifier(tape) {
                func parts(_ tower: Tower?, _ n: Int) -> [Variable] { tower?.fieldParts(tape, (0..<Int32(n)).map { $0 }) ?? [] }
                featureCache = (ObjectIdentifier(tape), parts(userFeatures, graph.users), parts(itemFeatures, graph.items))
            }
            let cached = featureCache!
            func encoded(_ tower: Tower?, _ parts: [Variable], _ n: Int, _ mask: Tensor?) -> Variable {
                guard let tower else { return tape.constant(Tensor(zeros: [n, ego.value.cols])) }
                return tower.combine(tape, parts, fieldMask: mask)
            }
            out = out + tape.concatRows([encoded(userFeatures, cached.users, graph.users, masks?.users),
                                         encoded(itemFeatures, cached.items, graph.items, masks?.items)])
        }
        if masks == nil { egoCache = (ObjectIdentifier(tape), out) }
        return out
    }
    private var egoCache: (tape: ObjectIdentifier, ego: Variable)?
    private var featureCache: (tape: ObjectIdentifier, users: [Variable], items: [Variable])?

    /// Propagates `E⁰` through one adjacency per layer; with `noise`, adds `ε · sign(E) ⊙ unit-noise` to each layer.
    /// Returns the layer outputs `[E⁰, E¹, …, E^K]`.
    func propagate(_ tape: Tape, adjacency layersAdj: [CSRMatrix], noise: Float?, ego egoVariable: Variable? = nil) -> [Variable] {
        var outputs = [egoVariable ?? egoEmbeddings(tape)]
        for k in 0..<settings.layers {
            var e = tape.sparseMatmul(layersAdj[k], outputs[k], transposed: layersAdj[k])  // symmetric
            if let eps = noise { e = e + tape.constant(signAlignedNoise(e.value, eps: eps)) }
            outputs.append(e)
        }
        return outputs
    }

    /// `ε · sign(x) ⊙ r/‖r‖` with `r` uniform in [0, 1)^d per row (SimGCL's perturbation); a constant on the tape.
    public func signAlignedNoise(_ x: Tensor, eps: Float) -> Tensor {
        var out = Tensor(uninitialized: x.shape)
        let d = x.cols
        // A local generator: drawing from the class's stored one costs a dynamic exclusivity check per element
        // (perf: a third of a SimGCL step). Same draws in the same order.
        var local = rng
        defer { rng = local }
        x.data.withUnsafeBufferPointer { px in
            out.data.withUnsafeMutableBufferPointer { po in
                for i in 0..<x.rows {
                    let row = i * d
                    var norm: Float = 0
                    for j in 0..<d { let r = local.uniform(); po[row + j] = r; norm += r * r }
                    let scale = eps / max(norm.squareRoot(), 1e-12)
                    for j in 0..<d {
                        let v = px[row + j]
                        po[row + j] *= scale * (v > 0 ? 1 : v < 0 ? -1 : 0)
                    }
                }
            }
        }
        return out
    }

    /// The layer mean `[E⁰ … E^K]` without noise: one fused op (Horner's rule, two buffers) when every layer uses
    /// the same adjacency, as in LightGCN and SGL's ED/ND views; layer by layer for SGL's random walk.
    func meanOfLayers(_ tape: Tape, views layersAdj: [CSRMatrix], ego egoVariable: Variable? = nil) -> Variable {
        let e0 = egoVariable ?? egoEmbeddings(tape)
        if let first = layersAdj.first, layersAdj.allSatisfy({ $0 == first }) {  // same storage: a pointer compare
            return tape.propagationMean(first, e0, layers: layersAdj.count, transposed: first)  // symmetric
        }
        return readout(tape, propagate(tape, adjacency: layersAdj, noise: nil, ego: e0), skipEgo: false)
    }

    func readout(_ tape: Tape, _ layers: [Variable], skipEgo: Bool) -> Variable {
        let used = skipEgo ? Array(layers.dropFirst()) : layers
        var sum = used[0]
        for l in used.dropFirst() { sum = sum + l }
        return tape.scale(sum, 1 / Float(used.count))
    }

    /// The readout used by the main loss and by evaluation (cached per tape).
    func final(_ tape: Tape) -> Variable {
        if let cache, cache.tape == ObjectIdentifier(tape) { return cache.final }
        let adj = Array(repeating: adjacency, count: settings.layers)
        let out: Variable
        switch variant {
        case .lightGCN, .sgl:
            out = meanOfLayers(tape, views: adj)
        case .simGCL:
            out = readout(tape, propagate(tape, adjacency: adj, noise: nil), skipEgo: true)
        case .xSimGCL:
            let layers = propagate(tape, adjacency: adj, noise: tape.isTraining ? settings.noise : nil)
            out = readout(tape, layers, skipEgo: true)
            if tape.isTraining { xLayer = (ObjectIdentifier(tape), layers[settings.clLayer]) }
        }
        cache = (ObjectIdentifier(tape), out)
        return out
    }

    private var xLayer: (tape: ObjectIdentifier, layer: Variable)?

    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { finalRows(tape, ids) }
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable {
        let offset = Int32(graph.users)
        return finalRows(tape, ids.map { $0 + offset })
    }

    /// Rows of the LightGCN readout. Training on a large graph, a batch touches a sliver of the nodes, so the last
    /// of the K propagations is done for those rows only: `S[R] = E⁰[R] + Â[R,:]·T` with `T = Σ_{k<K} Âᵏ E⁰` (shared by
    /// every call on the tape), readout `S[R]/(K+1)`. Forward and backward then take 2(K−1) full sparse products
    /// instead of 2K. Small graphs, where a batch covers much of the graph, and evaluation use the full readout.
    func finalRows(_ tape: Tape, _ rows: [Int32]) -> Variable {
        let k = settings.layers
        guard tape.isTraining, variant == .lightGCN, k >= 1, rows.count * 8 <= graph.nodes else {
            return tape.gatherRows(final(tape), rows)
        }
        let (egoVar, partial) = partialMean(tape)
        let sub = adjacency.selectingRows(rows, scaledBy: Float(k))  // K · mean of K−1 propagations = T
        let propagated = tape.sparseMatmul(sub, partial, transposed: sub.transposed())
        return tape.scale(tape.gatherRows(egoVar, rows) + propagated, 1 / Float(k + 1))
    }

    /// `E⁰` on the tape and the mean of its first K−1 propagations, `T / K` (the factor K is folded into the
    /// batch rows' adjacency, which is small, instead of a pass over every node), cached per tape.
    private func partialMean(_ tape: Tape) -> (ego: Variable, partial: Variable) {
        if let p = partialCache, p.tape == ObjectIdentifier(tape) { return (p.ego, p.partial) }
        let e = egoEmbeddings(tape)
        let k = settings.layers
        let partial = k == 1 ? e : tape.propagationMean(adjacency, e, layers: k - 1, transposed: adjacency)
        partialCache = (ObjectIdentifier(tape), e, partial)
        return (e, partial)
    }
    private var partialCache: (tape: ObjectIdentifier, ego: Variable, partial: Variable)?

    /// The L2 regulariser on the batch's ego embeddings, plus the variant's contrastive loss.
    public func auxiliaryLoss(_ tape: Tape, users: [Int32], items: [Int32], negatives: [Int32]) -> Variable? {
        let offset = Int32(graph.users)
        var terms: [Variable] = []
        if settings.regularization > 0 {
            let rows = users + items.map { $0 + offset } + negatives.map { $0 + offset }
            let e = tape.embedding(ego, rows: rows)
            terms.append(tape.scale(tape.sumOfSquares(e), settings.regularization / (2 * Float(users.count))))
        }
        func contrast(_ a: Variable, _ b: Variable) -> Variable {
            let uniqueUsers = Array(Set(users)).sorted(), uniqueItems = Array(Set(items)).sorted().map { $0 + offset }
            let za = tape.l2Normalize(tape.gatherRows(a, uniqueUsers)), zb = tape.l2Normalize(tape.gatherRows(b, uniqueUsers))
            let ia = tape.l2Normalize(tape.gatherRows(a, uniqueItems)), ib = tape.l2Normalize(tape.gatherRows(b, uniqueItems))
            let lu = RetrievalLoss.inBatchSoftmax(tape, users: za, items: zb, itemIds: uniqueUsers, temperature: settings.clTemperature,
                                                  maskAccidentalHits: false)
            let li = RetrievalLoss.inBatchSoftmax(tape, users: ia, items: ib, itemIds: uniqueItems, temperature: settings.clTemperature,
                                                  maskAccidentalHits: false)
            return tape.scale(lu + li, settings.clWeight)
        }
        switch variant {
        case .lightGCN:
            break
        case .sgl:
            if views.isEmpty { beginEpoch() }
            let masked = featureViews.map { egoEmbeddings(tape, masks: $0) }  // attribute masking; empty otherwise
            let v1 = meanOfLayers(tape, views: views[0], ego: masked.first), v2 = meanOfLayers(tape, views: views[1], ego: masked.last)
            terms.append(contrast(v1, v2))
        case .simGCL:
            let adj = Array(repeating: adjacency, count: settings.layers)
            let v1 = readout(tape, propagate(tape, adjacency: adj, noise: settings.noise), skipEgo: true)
            let v2 = readout(tape, propagate(tape, adjacency: adj, noise: settings.noise), skipEgo: true)
            terms.append(contrast(v1, v2))
        case .xSimGCL:
            let fin = final(tape)
            if let x = xLayer, x.tape == ObjectIdentifier(tape) { terms.append(contrast(fin, x.layer)) }
        }
        guard var total = terms.first else { return nil }
        for t in terms.dropFirst() { total = total + t }
        return total
    }
}
