import TandemTensor
import TandemAutograd
import TandemData

/// SGL's graph augmentations: edge dropout, node dropout, random walk (a fresh edge dropout per layer), and attribute
/// masking (node side features enter the ego embeddings and each view masks feature fields).
public enum SGLAugmentation: String, Sendable, Codable, CaseIterable { case ed, nd, rw, am }

/// Settings of the graph family (LightGCN, SGL, SimGCL, XSimGCL). YAML keys and flags are the snake_case /
/// kebab-case of these names.
public struct GraphConfig: Codable, Equatable, Sendable {
    /// Propagation layers K (graph models).
    public var layers: Int = 3
    /// L2 penalty on the batch's ego embeddings (LightGCN's regulariser), per example.
    public var graphReg: Float = 1e-4
    /// Weight λ of the contrastive view loss (sgl, simgcl, xsimgcl).
    public var clWeight: Float = 0.1
    /// Temperature of the contrastive view loss.
    public var clTemperature: Float = 0.2
    /// SimGCL/XSimGCL noise magnitude ε.
    public var noiseEps: Float = 0.1
    /// SGL augmentation: ed (edge dropout), nd (node dropout), rw (random walk: edge dropout per layer), am (attribute
    /// masking: side features join the ego embeddings, each view masks feature fields per node; needs features).
    public var augmentation: SGLAugmentation = .ed
    /// SGL dropout ratio ρ.
    public var dropRatio: Double = 0.1
    /// XSimGCL: the layer contrasted with the final embeddings.
    public var clLayer: Int = 1

    public init() {}
}

/// What LightGCN and its contrastive variants share: ego embeddings `E⁰` (users, then items; plus encoded side
/// features when given), the symmetrically normalised adjacency `Â`, propagation `E^{k+1} = Â E^k`, readouts, the
/// L2 regulariser and the view-vs-view InfoNCE.
public final class GraphPropagation {
    public let config: GraphConfig
    public let graph: BipartiteGraph
    public let ego: Parameter
    /// Side-feature encoders (no id field, no hidden layer: fields → d), added to the id rows; nil without features.
    public let userFeatures: Tower?, itemFeatures: Tower?
    public let adjacency: CSRMatrix

    /// `userFeatures`/`itemFeatures`: side features that enter the ego embeddings (nil or no fields: ids alone).
    public init(graph: BipartiteGraph, dim: Int, config: GraphConfig, userFeatures: FeatureSet? = nil,
                itemFeatures: FeatureSet? = nil, rng: inout RNG) {
        self.graph = graph
        self.config = config
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
    }

    public var parameters: [Parameter] { [ego] + (userFeatures?.parameters ?? []) + (itemFeatures?.parameters ?? []) }
    public var hasFeatures: Bool { userFeatures != nil || itemFeatures != nil }
    /// The full adjacency for every layer.
    public var layerAdjacency: [CSRMatrix] { Array(repeating: adjacency, count: config.layers) }
    /// Node rows of items `ids` (items follow the users).
    public func itemNodes(_ ids: [Int32]) -> [Int32] {
        let offset = Int32(graph.users)
        return ids.map { $0 + offset }
    }

    /// `E⁰`: the id rows, plus each node's encoded side features when the model has them (`masks`: an attribute-
    /// masking view's field masks). Without masks, computed once per tape.
    public func egoEmbeddings(_ tape: Tape, masks: (users: Tensor?, items: Tensor?)? = nil) -> Variable {
        guard masks == nil else { return makeEgo(tape, masks: masks) }
        return tape.memoized(self, "ego") { makeEgo(tape, masks: nil) }
    }

    private func makeEgo(_ tape: Tape, masks: (users: Tensor?, items: Tensor?)?) -> Variable {
        var out = tape.parameter(ego)
        guard hasFeatures else { return out }
        // One lookup of every node's fields per tape, shared by the unmasked E⁰ and both views.
        let userParts = tape.memoized(self, "user fields") { userFeatures?.fieldParts(tape, (0..<Int32(graph.users)).map { $0 }) ?? [] }
        let itemParts = tape.memoized(self, "item fields") { itemFeatures?.fieldParts(tape, (0..<Int32(graph.items)).map { $0 }) ?? [] }
        func encoded(_ tower: Tower?, _ parts: [Variable], _ n: Int, _ mask: Tensor?) -> Variable {
            guard let tower else { return tape.constant(Tensor(zeros: [n, ego.value.cols])) }
            return tower.combine(tape, parts, fieldMask: mask)
        }
        out = out + tape.concatRows([encoded(userFeatures, userParts, graph.users, masks?.users),
                                     encoded(itemFeatures, itemParts, graph.items, masks?.items)])
        return out
    }

    /// Propagates `E⁰` through one adjacency per layer; with `noise`, adds `ε · sign(E) ⊙ unit-noise` to each layer.
    /// Returns the layer outputs `[E⁰, E¹, …, E^K]`.
    public func propagate(_ tape: Tape, adjacency layersAdj: [CSRMatrix], noise: Float?, rng: inout RNG,
                          ego egoVariable: Variable? = nil) -> [Variable] {
        var outputs = [egoVariable ?? egoEmbeddings(tape)]
        for k in 0..<config.layers {
            var e = tape.sparseMatmul(layersAdj[k], outputs[k], transposed: layersAdj[k])  // symmetric
            if let eps = noise { e = e + tape.constant(Self.signAlignedNoise(e.value, eps: eps, rng: &rng)) }
            outputs.append(e)
        }
        return outputs
    }

    /// `ε · sign(x) ⊙ r/‖r‖` with `r` uniform in [0, 1)^d per row (SimGCL's perturbation).
    public static func signAlignedNoise(_ x: Tensor, eps: Float, rng: inout RNG) -> Tensor {
        var out = Tensor(uninitialized: x.shape)
        let d = x.cols
        // A local generator: drawing through the caller's storage costs an exclusivity check per element.
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
    public func meanOfLayers(_ tape: Tape, views layersAdj: [CSRMatrix], ego egoVariable: Variable? = nil) -> Variable {
        let e0 = egoVariable ?? egoEmbeddings(tape)
        if let first = layersAdj.first, layersAdj.allSatisfy({ $0 == first }) {  // same storage: a pointer compare
            return tape.propagationMean(first, e0, layers: layersAdj.count, transposed: first)  // symmetric
        }
        var unused = RNG(seed: 0)  // no noise: nothing is drawn
        return readout(tape, propagate(tape, adjacency: layersAdj, noise: nil, rng: &unused, ego: e0), skipEgo: false)
    }

    /// The mean of the layer outputs (without `E⁰` when `skipEgo`, as SimGCL and XSimGCL read out).
    public func readout(_ tape: Tape, _ layers: [Variable], skipEgo: Bool) -> Variable {
        let used = skipEgo ? Array(layers.dropFirst()) : layers
        var sum = used[0]
        for l in used.dropFirst() { sum = sum + l }
        return tape.scale(sum, 1 / Float(used.count))
    }

    /// LightGCN's L2 penalty on the batch's ego rows (users, positives, sampled negatives), per example; nil when off.
    public func regularizer(_ tape: Tape, users: [Int32], items: [Int32], negatives: [Int32]) -> Variable? {
        guard config.graphReg > 0 else { return nil }
        let e = tape.embedding(ego, rows: users + itemNodes(items) + itemNodes(negatives))
        return tape.scale(tape.sumOfSquares(e), config.graphReg / (2 * Float(users.count)))
    }

    /// The view-vs-view InfoNCE on the batch's distinct users and items (each node's row in view `a` should pick its
    /// own row in view `b`), times `cl_weight`.
    public func contrast(_ tape: Tape, _ a: Variable, _ b: Variable, users: [Int32], items: [Int32]) -> Variable {
        let uniqueUsers = Array(Set(users)).sorted(), uniqueItems = itemNodes(Array(Set(items)).sorted())
        let za = tape.l2Normalize(tape.gatherRows(a, uniqueUsers)), zb = tape.l2Normalize(tape.gatherRows(b, uniqueUsers))
        let ia = tape.l2Normalize(tape.gatherRows(a, uniqueItems)), ib = tape.l2Normalize(tape.gatherRows(b, uniqueItems))
        let lu = RetrievalLoss.inBatchSoftmax(tape, users: za, items: zb, itemIds: uniqueUsers, temperature: config.clTemperature,
                                              maskAccidentalHits: false)
        let li = RetrievalLoss.inBatchSoftmax(tape, users: ia, items: ib, itemIds: uniqueItems, temperature: config.clTemperature,
                                              maskAccidentalHits: false)
        return tape.scale(lu + li, config.clWeight)
    }
}

/// A graph recall model: a `GraphPropagation`, a readout, and (for the contrastive variants) a view loss. The
/// protocol supplies the rest of `RetrievalModel`: embeddings are rows of the readout, the auxiliary loss is the L2
/// regulariser plus the view loss.
public protocol GraphRecallModel: RetrievalModel {
    var propagation: GraphPropagation { get }
    /// The readout used by the main loss and by evaluation, every node's row (memoize it on the tape).
    func finalEmbeddings(_ tape: Tape) -> Variable
    /// Rows `rows` (node indices) of the readout; defaults to gathering them from `finalEmbeddings`.
    func finalRows(_ tape: Tape, _ rows: [Int32]) -> Variable
    /// The contrastive view loss of this batch (nil: none).
    func viewLoss(_ tape: Tape, users: [Int32], items: [Int32]) -> Variable?
}

extension GraphRecallModel {
    public var parameters: [Parameter] { propagation.parameters }
    public var computesAllRowsAtOnce: Bool { true }
    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { finalRows(tape, ids) }
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { finalRows(tape, propagation.itemNodes(ids)) }
    public func finalRows(_ tape: Tape, _ rows: [Int32]) -> Variable { tape.gatherRows(finalEmbeddings(tape), rows) }
    /// Zeroes the items' id (ego) rows: an item without edges then propagates its side features alone, or nothing.
    public func forgetItems(_ ids: [Int32]) { propagation.ego.zeroRows(propagation.itemNodes(ids)) }
    public func viewLoss(_ tape: Tape, users: [Int32], items: [Int32]) -> Variable? { nil }

    public func auxiliaryLoss(_ tape: Tape, users: [Int32], items: [Int32], negatives: [Int32]) -> Variable? {
        let terms = [propagation.regularizer(tape, users: users, items: items, negatives: negatives),
                     viewLoss(tape, users: users, items: items)].compactMap { $0 }
        return terms.isEmpty ? nil : terms.dropFirst().reduce(terms[0], +)
    }
}
