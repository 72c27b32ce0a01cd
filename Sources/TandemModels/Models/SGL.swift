import TandemTensor
import TandemAutograd
import TandemData

/// SGL (Wu et al., "Self-supervised Graph Learning for Recommendation", SIGIR 2021): LightGCN plus an InfoNCE between
/// two augmented views of the graph, drawn once per epoch, on the batch's users and items (weight `cl_weight`).
/// Views: edge dropout, node dropout, random walk (a fresh edge dropout per layer), re-normalised; or attribute
/// masking (`am`, GraphCL's augmentation for graphs with node features): each node's ego embedding is its id row plus a
/// linear map of its side features, and the two views mask feature fields per node (ratio `drop_ratio`) and keep
/// every edge.
public final class SGL: GraphRecallModel {
    public let propagation: GraphPropagation
    public var augmentation: SGLAugmentation { propagation.config.augmentation }
    private var views: [[CSRMatrix]] = []
    /// Attribute masking: per view, the user and item field masks (`[n, fields]`, 1 keep / 0 mask) of this epoch.
    public private(set) var featureViews: [(users: Tensor?, items: Tensor?)] = []
    private var rng: RNG
    /// The generator as it was before this epoch's views were drawn (a checkpoint redraws them from it).
    private var rngBeforeViews: RNG?

    /// Throws when attribute masking is asked for without side features.
    public init(graph: BipartiteGraph, dim: Int, config: GraphConfig, userFeatures: FeatureSet?, itemFeatures: FeatureSet?,
                rng: inout RNG) throws {
        let am = config.augmentation == .am
        propagation = GraphPropagation(graph: graph, dim: dim, config: config, userFeatures: am ? userFeatures : nil,
                                       itemFeatures: am ? itemFeatures : nil, rng: &rng)
        self.rng = rng.split()
        if am && !propagation.hasFeatures {
            throw ConfigError("augmentation am masks node side features, but the data has no user or item features in use")
        }
    }

    /// Draws this epoch's two views.
    public func beginEpoch() {
        let c = propagation.config, graph = propagation.graph
        rngBeforeViews = rng
        views = (0..<2).map { _ in
            switch c.augmentation {
            case .ed: return Array(repeating: graph.edgeDropout(ratio: c.dropRatio, rng: &rng), count: c.layers)
            case .nd: return Array(repeating: graph.nodeDropout(ratio: c.dropRatio, rng: &rng), count: c.layers)
            case .rw: return (0..<c.layers).map { _ in graph.edgeDropout(ratio: c.dropRatio, rng: &rng) }
            case .am: return propagation.layerAdjacency
            }
        }
        if c.augmentation == .am {
            func mask(_ tower: Tower?, _ n: Int) -> Tensor? {
                tower.map { t in
                    Tensor(shape: [n, t.fieldCount], data: (0..<(n * t.fieldCount)).map { _ in rng.uniform() < Float(c.dropRatio) ? 0 : 1 })
                }
            }
            featureViews = (0..<2).map { _ in (mask(propagation.userFeatures, graph.users), mask(propagation.itemFeatures, graph.items)) }
        }
    }

    public func finalEmbeddings(_ tape: Tape) -> Variable {
        tape.memoized(self, "final") { propagation.meanOfLayers(tape, views: propagation.layerAdjacency) }
    }

    public func viewLoss(_ tape: Tape, users: [Int32], items: [Int32]) -> Variable? {
        if views.isEmpty { beginEpoch() }
        let masked = featureViews.map { propagation.egoEmbeddings(tape, masks: $0) }  // attribute masking; empty otherwise
        let v1 = propagation.meanOfLayers(tape, views: views[0], ego: masked.first)
        let v2 = propagation.meanOfLayers(tape, views: views[1], ego: masked.last)
        return propagation.contrast(tape, v1, v2, users: users, items: items)
    }

    /// The generator before the current views were drawn: restoring redraws the same views and leaves the generator
    /// where it was.
    public func saveTrainingState(_ state: inout TrainingState, prefix: String) {
        state.set(prefix + "rng", rngBeforeViews ?? rng)
        state.set(prefix + "views_drawn", rngBeforeViews == nil ? 0 : 1)
    }

    public func restoreTrainingState(_ state: TrainingState, prefix: String) throws {
        rng = try state.rng(prefix + "rng")
        rngBeforeViews = nil
        views = []; featureViews = []
        if try state.int(prefix + "views_drawn") == 1 { beginEpoch() }
    }
}
