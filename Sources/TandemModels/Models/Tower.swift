import TandemTensor
import TandemAutograd
import TandemData

/// One tower: id embedding plus an embedding per side feature field, concatenated and passed through an MLP.
///
/// Categorical fields look up one row; multi-hot fields average their rows; numeric fields enter as one
/// standardised column each. With no hidden layers and no features the tower is plain MF.
public final class Tower {
    public let name: String
    public let idTable: Parameter?
    public let fields: [FeatureField]
    public let fieldTables: [Parameter?]
    public let mlp: MLP?
    /// SENet re-weighting of the id and feature fields before the MLP (nil: off, or fewer than two fields).
    public let senet: FieldReweighting?
    /// Behaviour fields in training: each pooled item is dropped with this probability (a denoising input, as in
    /// Mult-DAE); the mean is over the items kept. Inference pools every item.
    public var behaviourDropout: Float = 0
    /// A last output column after the MLP (nil: none). A two-tower model with an item bias gives its item tower a
    /// learned per-entity column and its user tower a column of ones, so the inner product adds the item's bias and an
    /// inner-product index serves the model unchanged.
    public let biasColumn: BiasColumn?
    /// The per-entity column of `.learned` (`[entities, 1]`, starting at zero).
    public let biasTable: Parameter?

    public enum BiasColumn: String, Codable, Sendable {
        /// A column of ones (the user side of an item bias).
        case ones
        /// One learned number per entity (an entity the tower has no row for, in cold start, gets 0).
        case learned
    }

    /// The tower's shape and its fields' vocabularies, without per-entity data: enough to rebuild the tower for
    /// embedding new entities from raw feature values (`init(spec:rng:)` plus the saved weights).
    public struct Spec: Codable, Equatable, Sendable {
        public var name: String
        /// Fields in order, as `FeatureField.schema`.
        public var fields: [FeatureField]
        /// Width of the id embedding; nil when the tower has no id field.
        public var idDim: Int?
        public var fieldDim: Int
        public var hidden: [Int]
        public var outputDim: Int
        public var senetReduction: Int?
        /// The output's last column, when the tower appends one (absent in towers saved before it existed).
        public var biasColumn: BiasColumn?
    }
    public let spec: Spec

    public init(_ name: String, entities: Int, features: FeatureSet?, idDim: Int, fieldDim: Int, hidden: [Int],
                outputDim: Int, dropout: Float, useIds: Bool = true, senetReduction: Int? = nil, biasColumn: BiasColumn? = nil,
                rng: inout RNG) {
        spec = Spec(name: name, fields: (features?.fields ?? []).map(\.schema), idDim: useIds ? idDim : nil, fieldDim: fieldDim,
                    hidden: hidden, outputDim: outputDim, senetReduction: senetReduction, biasColumn: biasColumn)
        self.name = name
        self.biasColumn = biasColumn
        biasTable = biasColumn == .learned ? Parameter("\(name).bias", Tensor(zeros: [entities, 1]), sparse: true) : nil
        idTable = useIds ? Parameter("\(name).id", rng.normalTensor(shape: [entities, idDim], std: 0.1), sparse: true) : nil
        fields = features?.fields ?? []
        fieldTables = fields.map { f in
            f.kind == .numeric ? nil : Parameter("\(name).\(f.name)", rng.normalTensor(shape: [f.cardinality, fieldDim], std: 0.1), sparse: true)
        }
        let input = (useIds ? idDim : 0) + fields.reduce(0) { $0 + ($1.kind == .numeric ? 1 : fieldDim) }
        precondition(input > 0, "tower \(name) has no inputs")
        if hidden.isEmpty && fields.isEmpty && useIds && idDim == outputDim {
            mlp = nil
        } else {
            mlp = MLP(name, sizes: [input] + hidden + [outputDim], dropout: dropout, rng: &rng)
        }
        let fieldCount = (useIds ? 1 : 0) + fields.count
        senet = senetReduction.flatMap { r in fieldCount >= 2 ? FieldReweighting(name, fields: fieldCount, reduction: r, rng: &rng) : nil }
    }

    /// A tower of `spec`'s shape over one entity, for cold start: load its weights by name (all but the id table,
    /// which cold start never reads).
    public convenience init(spec: Spec, rng: inout RNG) {
        self.init(spec.name, entities: 1, features: FeatureSet(fields: spec.fields, entityCount: 1), idDim: spec.idDim ?? spec.outputDim,
                  fieldDim: spec.fieldDim, hidden: spec.hidden, outputDim: spec.outputDim, dropout: 0, useIds: spec.idDim != nil,
                  senetReduction: spec.senetReduction, biasColumn: spec.biasColumn, rng: &rng)
    }

    public var parameters: [Parameter] {
        [idTable].compactMap { $0 } + fieldTables.compactMap { $0 } + (senet?.parameters ?? []) + (mlp?.parameters ?? [])
            + [biasTable].compactMap { $0 }
    }

    /// `x` with the bias column appended for entities `ids` (nil ids: entities without a row, which get 0).
    func appendingBias(_ tape: Tape, _ x: Variable, ids: [Int32]?) -> Variable {
        guard let biasColumn else { return x }
        let n = x.value.rows
        let column: Variable
        switch (biasColumn, ids) {
        case (.ones, _): column = tape.constant(Tensor(shape: [n, 1], data: [Float](repeating: 1, count: n)))
        case (.learned, let ids?): column = tape.embedding(biasTable!, rows: ids)
        case (.learned, nil): column = tape.constant(Tensor(zeros: [n, 1]))
        }
        return tape.concatColumns([x, column])
    }

    /// The fields joined into the MLP's input, re-weighted first when SENet is on.
    func combine(_ tape: Tape, _ parts: [Variable]) -> Variable {
        let weighted = senet.map { $0(tape, parts) } ?? parts
        let x = weighted.count == 1 ? weighted[0] : tape.concatColumns(weighted)
        return mlp.map { $0(tape, x) } ?? x
    }

    /// Embeds one entity that has no id row (cold start) from raw feature values: tokens for categorical and
    /// multi-hot fields, a number for numeric ones. The id part is zero; unknown tokens use the missing slot.
    public func coldStart(_ tape: Tape, features: [String: [String]]) -> Variable {
        var parts: [Variable] = []
        if let idTable { parts.append(tape.constant(Tensor(zeros: [1, idTable.value.cols]))) }
        for (f, table) in zip(fields, fieldTables) {
            let raw = features[f.name] ?? []
            switch f.kind {
            case .categorical:
                parts.append(tape.embedding(table!, rows: [raw.first.map { f.categoryIndex(of: $0) } ?? 0]))
            case .multiHot:
                let ids = raw.map { f.categoryIndex(of: $0) }.filter { $0 > 0 }
                parts.append(ids.isEmpty ? tape.constant(Tensor(zeros: [1, table!.value.cols]))
                                         : tape.segmentReduce(tape.embedding(table!, rows: ids), offsets: [0, ids.count], mean: true))
            case .numeric:
                let v = raw.first.flatMap { Float($0) }.map { ($0 - f.numericMean) / f.numericStd } ?? 0
                parts.append(tape.constant(Tensor(shape: [1, 1], data: [v])))
            }
        }
        return appendingBias(tape, combine(tape, parts), ids: nil)
    }

    /// Fields in the order the tower joins them (and `fieldMask` columns are read): the id (when used), then `fields`.
    public var fieldCount: Int { (idTable == nil ? 0 : 1) + fields.count }

    /// Embeds entities `ids`, with the bias column when the tower has one. `fieldMask` (`[n, fieldCount]`, 1 keep / 0
    /// mask) zeroes fields per row: the views of the self-supervised task. `holdingOut[r]` (an item index) is left out
    /// of row `r`'s behaviour fields: a training row's own positive, which the user tower must not see.
    public func callAsFunction(_ tape: Tape, _ ids: [Int32], fieldMask: Tensor? = nil, holdingOut: [Int32]? = nil) -> Variable {
        appendingBias(tape, combine(tape, fieldParts(tape, ids, holdingOut: holdingOut), fieldMask: fieldMask), ids: ids)
    }

    /// Each field's embedding of entities `ids`, in `fieldCount` order, before masking and the MLP: several masked
    /// views of the same entities can share one lookup (`combine(_:_:fieldMask:)`). `historyView` replaces each row's
    /// behaviour items by a view of them (the self-supervised history views; no dropout or holding out then).
    public func fieldParts(_ tape: Tape, _ ids: [Int32], holdingOut: [Int32]? = nil,
                           historyView: ((ArraySlice<Int32>) -> [Int32])? = nil) -> [Variable] {
        precondition(holdingOut == nil || holdingOut!.count == ids.count, "holdingOut needs one item per row")
        var parts: [Variable] = []
        if let idTable { parts.append(tape.embedding(idTable, rows: ids)) }
        for (f, table) in zip(fields, fieldTables) {
            switch f.kind {
            case .categorical:
                parts.append(tape.embedding(table!, rows: ids.map { f.categories[Int($0)] }))
            case .multiHot:
                var offsets = [0], values: [Int32] = []
                let drop = f.isBehaviour && tape.isTraining ? behaviourDropout : 0
                for (r, e) in ids.enumerated() {
                    let row = f.values[f.offsets[Int(e)]..<f.offsets[Int(e) + 1]]
                    if f.isBehaviour, let historyView {
                        values.append(contentsOf: historyView(row))
                    } else if f.isBehaviour && (holdingOut != nil || drop > 0) {
                        let held = holdingOut.map { $0[r] + 1 } ?? 0  // values are item index + 1; 0 never occurs
                        for v in row where v != held && (drop == 0 || tape.rng.uniform() >= drop) { values.append(v) }
                    } else {
                        values.append(contentsOf: row)
                    }
                    offsets.append(values.count)
                }
                parts.append(tape.segmentReduce(tape.embedding(table!, rows: values), offsets: offsets, mean: true))
            case .numeric:
                parts.append(tape.constant(Tensor(shape: [ids.count, 1], data: ids.map { f.numbers[Int($0)] })))
            }
        }
        return parts
    }

    /// The tower's output from `fieldParts`, with fields zeroed per row by `fieldMask` (`[n, fieldCount]`).
    public func combine(_ tape: Tape, _ parts: [Variable], fieldMask: Tensor?) -> Variable {
        guard let fieldMask else { return combine(tape, parts) }
        let n = parts.first?.value.rows ?? 0
        precondition(fieldMask.shape == [n, parts.count], "field mask \(fieldMask.shape) for \(n) rows of \(parts.count) fields")
        return combine(tape, parts.enumerated().map { k, part in
            part * tape.constant(Tensor(shape: [n, 1], data: (0..<n).map { fieldMask.data[$0 * parts.count + k] }))
        })
    }
}
