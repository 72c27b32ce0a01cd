import Foundation
import TandemTensor
import TandemData
import TandemModels
import TandemIndex

/// Items added to a model directory after training (`tandem index add-items`): each new item is embedded from its raw
/// feature values by the saved item tower (no id row: the same vector `PUT /v1/items` gives), appended to the item ids
/// and the serving bundle (no interactions, so zero popularity and nobody has seen it), and inserted into the saved HNSW
/// index when there is one. The weights and config stay as trained. The changed directory is staged beside the old one
/// and swapped in by renames, so an interrupted run leaves the old directory whole.
public enum CatalogueAddition {
    public struct Summary: Sendable {
        /// Items added, and ids already in the catalogue (left as they are).
        public var added: Int
        public var alreadyThere: [String]
        public var items: Int
        public var indexUpdated: Bool
    }

    /// The rows of an item feature file (a RecBole atomic `.item` file, or CSV/TSV with a header) as raw values for
    /// `fields`: a token for categorical fields, space-separated tokens for multi-hot ones, a number for numeric ones.
    public static func readFeatures(_ path: String, fields: [FeatureField]) throws -> [(id: String, features: [String: [String]])] {
        let table = path.hasSuffix(".item") ? try Table.readAtomic(path) : try Table.readDelimited(path)
        let idColumn = try table.column("item_id")
        let columns = try fields.map { f -> (FeatureField, Int) in
            guard table.has(f.name) else {
                throw DataError(file: path, line: 1, "no column '\(f.name)', which the item tower reads; the header has: \(table.names.joined(separator: ", "))")
            }
            return (f, try table.column(f.name))
        }
        return try (0..<table.rowCount).map { r in
            var features: [String: [String]] = [:]
            for (f, c) in columns {
                let cell = table.columns[c][r]
                switch f.kind {
                case .categorical: features[f.name] = cell.isEmpty ? [] : [cell]
                case .multiHot: features[f.name] = cell.split(separator: " ").map(String.init)
                case .numeric:
                    guard cell.isEmpty || Float(cell)?.isFinite == true else {
                        throw DataError(file: path, line: r + 2, column: c + 1, "expected a number in column '\(f.name)', found '\(cell)'")
                    }
                    features[f.name] = cell.isEmpty ? [] : [cell]
                }
            }
            let id = table.columns[idColumn][r]
            guard !id.isEmpty else { throw DataError(file: path, line: r + 2, column: idColumn + 1, "empty item_id") }
            return (id, features)
        }
    }

    /// Adds the items of the feature file `path` to the model directory `dir`.
    public static func add(featureFile path: String, to dir: String) throws -> Summary {
        let model = try ServingModel(modelDirectory: dir)
        guard let tower = model.itemTower else {
            throw DataError(file: dir, "model \(model.modelKind) has no item tower over features (\(ModelFile.itemTower)), so it cannot embed new items")
        }
        let rows = try readFeatures(path, fields: tower.fields)
        var ids = model.itemIds, vectors: [Float] = [], already: [String] = []
        for (id, features) in rows {
            if ids.lookup(id) != nil { already.append(id); continue }
            _ = ids.insert(id)
            vectors += model.embedItem(features)!
        }
        let added = ids.count - model.itemIds.count
        guard added > 0 else { return Summary(added: 0, alreadyThere: already, items: ids.count, indexUpdated: false) }
        let fresh = Tensor(shape: [added, model.items.cols], data: vectors)
        var manifest = model.manifest
        let bundle = try ServingBundle.decode(try manifest.readChecked(dir, ModelFile.serving, bytes: manifest.servingBytes ?? 0,
                                                                       checksum: manifest.servingChecksum ?? ""),
                                              file: dir + "/" + ModelFile.serving)
        let seen = bundle.seen
        let grown = ServingBundle(users: bundle.users, items: Tensor(shape: [ids.count, bundle.items.cols], data: bundle.items.data + fresh.data),
                                  itemCounts: bundle.itemCounts + [Int](repeating: 0, count: added),
                                  seen: CSRMatrix(rows: seen.rows, cols: ids.count, rowPointers: seen.rowPointers,
                                                  columnIndices: seen.columnIndices, values: seen.values))
        let serving = try grown.encode()
        manifest.items = ids.count
        manifest.servingBytes = serving.count
        manifest.servingChecksum = ModelManifest.fnv1a64(serving)
        manifest.addedItems = (manifest.addedItems ?? 0) + added

        // Stage the changed directory beside the old one, then swap.
        let staged = dir + ".adding-\(getpid())", old = dir + ".before-adding-\(getpid())"
        try? FileManager.default.removeItem(atPath: staged)
        do { try FileManager.default.copyItem(atPath: dir, toPath: staged) } catch {
            throw DataError(file: staged, "cannot stage the changed model directory: \(error.localizedDescription)")
        }
        do {
            try AtomicFile.write(serving, to: staged + "/" + ModelFile.serving)
            try AtomicFile.write(ModelManifest.encoder.encode(ids), to: staged + "/" + ModelFile.itemIds)
            var indexUpdated = false
            let hnsw = staged + "/" + ModelFile.hnswIndex
            if FileManager.default.fileExists(atPath: hnsw) {
                let index = try HNSWIndex(loading: hnsw, dimension: fresh.cols, metric: .innerProduct)
                try index.append(fresh)
                try index.save(to: hnsw)
                indexUpdated = true
            }
            try? FileManager.default.removeItem(atPath: staged + "/" + ModelFile.flatIndex)  // rebuilt by `index build`
            try AtomicFile.write(ModelManifest.encoder.encode(manifest), to: staged + "/" + ModelFile.manifest)
            guard rename(dir, old) == 0, rename(staged, dir) == 0 else {
                throw DataError(file: dir, "cannot swap in the changed directory: \(String(cString: strerror(errno)))")
            }
            try? FileManager.default.removeItem(atPath: old)
            return Summary(added: added, alreadyThere: already, items: ids.count, indexUpdated: indexUpdated)
        } catch {
            try? FileManager.default.removeItem(atPath: staged)
            throw error
        }
    }
}
