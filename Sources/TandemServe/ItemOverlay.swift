import Foundation
import TandemTensor
import TandemAutograd

/// Items changed while the server runs, on top of the loaded model's catalogue: items added by `PUT /v1/items` (their
/// raw features, kept so a reloaded model embeds them again, and their vectors as scored) and catalogue items hidden by
/// `DELETE /v1/items/{id}` or replaced by an added item of the same id. A value: the backend changes its own under a
/// lock, and each request reads the copy it was handed, one consistent catalogue. Added items are scored by one
/// matrix-vector product next to the index search — a small delta segment; `tandem index add-items` folds items into
/// the model directory for good.
struct ItemOverlay: Sendable {
    struct Added: Sendable {
        let id: String
        let features: [String: [String]]
    }
    private(set) var added: [Added] = []
    /// The added items' vectors as scored, row `i` for `added[i]`.
    private(set) var matrix: [Float] = []
    private var position: [String: Int] = [:]
    /// Ids hidden from the model's own catalogue (the source of truth across reloads).
    private(set) var hiddenIds: Set<String> = []

    func addedIndex(of id: String) -> Int? { position[id] }

    /// Row `i` of `matrix`.
    func vector(_ i: Int) -> [Float] {
        let d = matrix.count / added.count
        return Array(matrix[(i * d)..<(i * d + d)])
    }

    /// Adds or replaces `item` with its vector; a catalogue item of the same id is hidden (the added vector answers
    /// for it).
    mutating func put(_ item: Added, vector: [Float], hidingCatalogueItem: Bool) {
        if let i = position[item.id] {
            added[i] = item
            let d = vector.count
            matrix.replaceSubrange((i * d)..<(i * d + d), with: vector)
        } else {
            position[item.id] = added.count; added.append(item); matrix += vector
        }
        if hidingCatalogueItem { hiddenIds.insert(item.id) }
    }

    /// Removes an added item, or hides a catalogue item.
    mutating func delete(_ id: String, inCatalogue: Bool) {
        if let i = position.removeValue(forKey: id) {
            let d = matrix.count / added.count
            matrix.removeSubrange((i * d)..<(i * d + d))
            added.remove(at: i)
            for (k, item) in added.enumerated() where k >= i { position[item.id] = k }
        }
        if inCatalogue { hiddenIds.insert(id) }
    }

    /// The same changes with every added item embedded again by `embed` (a reloaded model); items it cannot embed
    /// (nil: the new model has no item tower) are dropped.
    func reembedded(_ embed: ([String: [String]]) -> [Float]?) -> ItemOverlay {
        var out = ItemOverlay()
        out.hiddenIds = hiddenIds
        for a in added { if let v = embed(a.features) { out.put(a, vector: v, hidingCatalogueItem: false) } }
        return out
    }
}

/// The catalogue a request sees: the model's items (indices `0..<base`) minus the hidden ones, then the overlay's added
/// items (indices `base…`). Ids, vectors, nearest-neighbour search and JSON heads over both. Made once per change of
/// either (the backend keeps it), not per request.
struct ServedCatalogue: Sendable {
    let model: ServingModel
    let overlay: ItemOverlay
    /// Catalogue indices of the hidden ids, sorted.
    let hidden: [Int32]

    init(model: ServingModel, overlay: ItemOverlay) {
        self.model = model; self.overlay = overlay
        hidden = overlay.hiddenIds.compactMap { model.itemIds.lookup($0) }.sorted()
    }

    var base: Int { model.itemIds.count }
    /// Items a request can be answered with.
    var count: Int { base - hidden.count + overlay.added.count }

    func lookup(_ id: String) -> Int32? {
        if let i = overlay.addedIndex(of: id) { return Int32(base + i) }
        guard let i = model.itemIds.lookup(id), !overlay.hiddenIds.contains(id) else { return nil }
        return i
    }

    func token(_ i: Int32) -> String { Int(i) < base ? model.itemIds.token(i) : overlay.added[Int(i) - base].id }

    func vector(_ i: Int32) -> [Float] {
        if Int(i) >= base { return overlay.vector(Int(i) - base) }
        let d = model.items.cols
        return Array(model.items.data[(Int(i) * d)..<(Int(i) * d + d)])
    }

    func appendItemHead(_ i: Int32, to out: inout [UInt8]) {
        if Int(i) < base { model.itemJSONHeads.append(Int(i), to: &out) } else { TandemServe.appendItemHead(id: token(i), to: &out) }
    }

    /// The `k` best items for `query` (one row), never the `excluded` indices or a hidden item: the model's index over
    /// its catalogue, merged with a scan of the added items (ties to the lower index).
    func nearest(_ query: Tensor, k: Int, excluding excluded: [Int32]) -> [(Int32, Float)] {
        // An exact index fills a short answer with masked (−∞) items: they are not answers.
        let fromModel = model.nearest(query, k: k, excluding: hidden.isEmpty ? excluded : excluded + hidden).filter { $0.1 > -.infinity }
        guard !overlay.added.isEmpty else { return fromModel }
        let n = overlay.added.count, d = query.cols
        var scores = [Float](repeating: 0, count: n)
        overlay.matrix.withUnsafeBufferPointer { a in
            query.data.withUnsafeBufferPointer { x in
                scores.withUnsafeMutableBufferPointer { y in BLAS.gemv(rows: n, cols: d, a: a.baseAddress!, x: x.baseAddress!, y: y.baseAddress!) }
            }
        }
        for i in excluded where Int(i) >= base && Int(i) < base + n { scores[Int(i) - base] = -.infinity }
        let best = TopK.select(scores, k: k).filter { scores[Int($0)] > -.infinity }
        let found = fromModel + best.map { (Int32(base) + $0, scores[Int($0)]) }
        return Array(found.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(k))
    }
}
