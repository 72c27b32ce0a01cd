import TandemTensor
import TandemAutograd
import TandemData

/// Which towers of a two-tower model a feature applies to.
public enum TowerSelection: String, Codable, CaseIterable, Sendable {
    case none, user, item, both
    public var user: Bool { self == .user || self == .both }
    public var item: Bool { self == .item || self == .both }
}

/// Which towers get the self-supervised task: `auto` is the item tower when it has side features, else none.
public enum SSLSelection: String, Codable, CaseIterable, Sendable {
    case none, auto, user, item, both
    public var user: Bool { self == .user || self == .both }
    public var item: Bool { self == .item || self == .both || self == .auto }
}

/// What the user tower's self-supervised views vary.
public enum UserSSLViews: String, Codable, CaseIterable, Sendable {
    /// Masked fields, as on the item side (`ssl_augmentation`).
    case fields
    /// The behaviour history: CL4SRec's crops and masks (`history_crop`, `history_mask`), the user id left out.
    case history
}

/// Settings of the two-tower family. YAML keys and flags are the snake_case / kebab-case of these names.
public struct TwoTowerConfig: Codable, Equatable, Sendable {
    /// Hidden layer sizes of each tower's MLP (two-tower).
    public var hidden: [Int] = []
    /// Embedding size of each side-feature field (two-tower).
    public var fieldDim: Int = 16
    /// SENet field re-weighting (FiBiNET) before the tower MLP, on the user, item or both towers (two-tower; a tower
    /// with fewer than two fields has nothing to re-weight).
    public var senet: TowerSelection = .none
    /// SENet squeeze layer width: ⌈fields / senet_reduction⌉ units.
    public var senetReduction: Int = 2
    /// Behaviour pooling (two-tower): the user tower gets a history field, the mean embedding of the user's last
    /// history_length training items (0: off). Also a cold-start input: "user_features": {"history": [item ids]}.
    public var historyLength: Int = 0
    /// Behaviour pooling: in training, drop each history item with this probability (Mult-DAE's denoising input; 0: off).
    public var historyDropout: Float = 0
    /// Behaviour pooling: leave a training row's own positive out of its user's history (default: exactly when
    /// --user-ids false, since a user-id embedding can read the held-out item off the difference).
    public var historyHoldout: Bool? = nil
    /// Which towers read the dataset's side features when use_features is on (two-tower; default both): `item` keeps the
    /// user tower an id embedding (plus history, when pooled), `user` the item tower.
    public var featureTowers: TowerSelection = .both
    /// The user tower embeds the user id (two-tower; default true). false: users are embedded from features and
    /// history only, like YouTube DNN's, so every user, seen in training or not, is embedded the same way.
    public var userIds: Bool = true
    /// Dropout between the towers' MLP layers (two-tower).
    public var dropout: Float = 0
    /// Self-supervised auxiliary loss (Yao et al. 2021; two-tower) on the user, item or both towers, or auto (the item
    /// tower when it has side features). Two masked views of uniformly drawn entities, InfoNCE between them, added to
    /// the main loss with weight ssl_weight.
    public var ssl: SSLSelection = .none
    /// How the two self-supervised views are made: fd (feature dropout), rfm (random feature masking: complementary
    /// random halves), cfm (correlated feature masking: a seed field and its highest mutual-information fields vs the rest).
    public var sslAugmentation: FeatureAugmentation = .cfm
    /// Weight α of the self-supervised loss.
    public var sslWeight: Float = 0.1
    /// Temperature of the self-supervised InfoNCE.
    public var sslTemperature: Float = 0.2
    /// fd: probability of dropping each field in each view.
    public var sslDropRate: Float = 0.3
    /// What the user tower's self-supervised views vary (ssl user or both): fields (masked as ssl_augmentation says)
    /// or history (two crops or masks of the user's behaviour history, as CL4SRec makes them; needs history_length > 0;
    /// both views leave the user id out, which would otherwise tell the views' user apart on its own).
    public var userSslViews: UserSSLViews = .fields
    /// History views: the share of the history a crop keeps (a contiguous run at a random start).
    public var historyCrop: Float = 0.6
    /// History views: each item's probability of being dropped in a masked view.
    public var historyMask: Float = 0.3
    /// Entities per self-supervised batch (0: batch_size).
    public var sslBatchSize: Int = 0
    /// A learned bias per item added to every score, so popularity can show without living in the embedding: the item
    /// vector gets the bias as a last column and the user vector a 1, which keeps scores inner products (exported,
    /// indexed and served as they are). Two-tower: the towers' last column, so similarity dot only. MF: added after
    /// the similarity, cos(u, v)/τ + b_i under cosine.
    public var itemBias: Bool = false

    public init() {}

    /// Whether training rows hold their positive out of the history: `history_holdout`, else `!user_ids`.
    public var holdsOutHistoryPositive: Bool { historyHoldout ?? !userIds }
}

/// The two-tower model (Yi et al., "Sampling-Bias-Corrected Neural Modeling for Large Corpus Item Recommendations",
/// RecSys 2019): a user tower and an item tower over ids and side features, each an MLP over its fields' embeddings;
/// optionally SENet field re-weighting (FiBiNET), behaviour pooling, and the self-supervised feature-masking task of
/// Yao et al. (CIKM 2021) on either tower.
public final class TwoTower: RetrievalModel {
    public let userTower: Tower
    public let itemTower: Tower
    /// Self-supervised auxiliary tasks (Yao et al. 2021) of the user and the item tower; nil: off.
    public var userSelfSupervision: SelfSupervisedTask?
    public var itemSelfSupervision: SelfSupervisedTask?
    /// Leave a training row's positive out of its user's history (see `TwoTowerConfig.historyHoldout`).
    public var holdsOutPositives = true

    public init(userTower: Tower, itemTower: Tower) {
        self.userTower = userTower; self.itemTower = itemTower
    }

    /// The model a config describes, over `dataset`'s ids and (when `useFeatures`) side features. Throws when the
    /// self-supervised task is asked of a tower with fewer than two fields, or the user tower would have no input.
    public convenience init(_ config: TwoTowerConfig, dataset: Dataset, dim: Int, useFeatures: Bool, batchSize: Int,
                            rng: inout RNG) throws {
        if !config.userIds && config.historyLength == 0 && (!useFeatures || !config.featureTowers.user || dataset.userFeatures == nil) {
            throw ConfigError("user_ids false leaves the user tower without inputs: give user features or history_length > 0")
        }
        var userFeatures = useFeatures && config.featureTowers.user ? dataset.userFeatures : nil
        if config.historyLength > 0 {
            let history = FeatureField.history(train: dataset.split.train, users: dataset.numUsers, itemIds: dataset.itemIds,
                                               length: config.historyLength)
            userFeatures = FeatureSet(fields: (userFeatures?.fields ?? []) + [history], entityCount: dataset.numUsers)
        }
        let user = Tower("user", entities: dataset.numUsers, features: userFeatures, idDim: dim, fieldDim: config.fieldDim,
                         hidden: config.hidden, outputDim: dim, dropout: config.dropout, useIds: config.userIds,
                         senetReduction: config.senet.user ? config.senetReduction : nil,
                         biasColumn: config.itemBias ? .ones : nil, rng: &rng)
        user.behaviourDropout = config.historyDropout
        let itemFeatures = useFeatures && config.featureTowers.item ? dataset.itemFeatures : nil
        let item = Tower("item", entities: dataset.numItems, features: itemFeatures, idDim: dim, fieldDim: config.fieldDim,
                         hidden: config.hidden, outputDim: dim, dropout: config.dropout,
                         senetReduction: config.senet.item ? config.senetReduction : nil,
                         biasColumn: config.itemBias ? .learned : nil, rng: &rng)
        self.init(userTower: user, itemTower: item)
        holdsOutPositives = config.holdsOutHistoryPositive
        let sslBatch = config.sslBatchSize > 0 ? config.sslBatchSize : batchSize
        func task(_ tower: Tower, entities: Int) -> SelfSupervisedTask? {
            guard tower.fieldCount >= 2 else { return nil }
            let mi = config.sslAugmentation == .cfm
                ? FieldMasker.mutualInformation(fields: tower.fields, entities: entities, includesId: tower.idTable != nil) : []
            let masker = FieldMasker(kind: config.sslAugmentation, fieldCount: tower.fieldCount, dropRate: config.sslDropRate,
                                     mutualInformation: mi)
            return SelfSupervisedTask(views: .fields(masker), entities: entities, batchSize: sslBatch,
                                      temperature: config.sslTemperature, weight: config.sslWeight)
        }
        if config.ssl.user && config.userSslViews == .history {
            // TrainConfig.validate has checked history_length, history_crop and history_mask.
            userSelfSupervision = SelfSupervisedTask(views: .history(HistoryAugmentation(crop: config.historyCrop, mask: config.historyMask)),
                                                     entities: dataset.numUsers, batchSize: sslBatch,
                                                     temperature: config.sslTemperature, weight: config.sslWeight)
        } else if config.ssl.user {
            userSelfSupervision = task(user, entities: dataset.numUsers)
        }
        if config.ssl.item { itemSelfSupervision = task(item, entities: dataset.numItems) }
        // `auto` quietly skips a featureless item tower; naming a tower asks for its task, so a tower that cannot have one is an error.
        for (side, tower, chosen, made) in [("user", user, config.ssl.user, userSelfSupervision != nil),
                                            ("item", item, config.ssl.item && config.ssl != .auto, itemSelfSupervision != nil)]
            where chosen && !made {
            throw ConfigError("ssl \(config.ssl.rawValue): the \(side) tower has \(tower.fieldCount) field(s); two views need at least two (give \(side) features)")
        }
    }

    public var parameters: [Parameter] { userTower.parameters + itemTower.parameters }
    public var itemParameters: [Parameter] { itemTower.parameters }
    public func userEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { userTower(tape, ids) }
    public func itemEmbeddings(_ tape: Tape, _ ids: [Int32]) -> Variable { itemTower(tape, ids) }
    /// A training row's user embedding without its positive item in the pooled history.
    public func userEmbeddings(_ tape: Tape, _ ids: [Int32], positives: [Int32]) -> Variable {
        userTower(tape, ids, holdingOut: holdsOutPositives ? positives : nil)
    }
    public var coldStartUserTower: Tower? { userTower }
    public var featureItemTower: Tower? { itemTower.fields.isEmpty ? nil : itemTower }
    public func forgetItems(_ ids: [Int32]) { itemTower.idTable?.zeroRows(ids); itemTower.biasTable?.zeroRows(ids) }

    public func auxiliaryLoss(_ tape: Tape, users: [Int32], items: [Int32], negatives: [Int32]) -> Variable? {
        let terms = [userSelfSupervision?.loss(tape, tower: userTower), itemSelfSupervision?.loss(tape, tower: itemTower)].compactMap { $0 }
        return terms.isEmpty ? nil : terms.dropFirst().reduce(terms[0], +)
    }
}
