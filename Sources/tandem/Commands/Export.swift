import ArgumentParser
import Foundation
import TandemTensor
import TandemData
import TandemTrain
import TandemModels
import TandemEval
import TandemDistributed
import TandemIndex
import TandemServe
import NIOCore
import NIOPosix

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a saved model's user and item embeddings as .npy, with id lists.")
    @Option(help: "Model directory written by `tandem train --output`.") var modelDir: String
    @Option(help: "Output directory.") var out: String

    func run() throws {
        let (cfg, ds, model) = reportingErrors { try ModelStore.load(from: modelDir) }
        guard !model.parameters.isEmpty else { fail("model '\(cfg.model.rawValue)' has no learned embeddings to export") }
        if let reason = ModelStore.embeddingsTooLarge(model, dataset: ds) { fail("\(modelDir): \(reason)") }
        let (users, items) = ModelStore.scoredEmbeddings(model, config: cfg, dataset: ds)
        reportingErrors {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            try AtomicFile.write(NPY.encode(users), to: out + "/users.npy")
            try AtomicFile.write(NPY.encode(items), to: out + "/items.npy")
            try AtomicFile.write(Data((ds.userIds.tokens.joined(separator: "\n") + "\n").utf8), to: out + "/user_ids.txt")
            try AtomicFile.write(Data((ds.itemIds.tokens.joined(separator: "\n") + "\n").utf8), to: out + "/item_ids.txt")
        }
        print("wrote \(out)/users.npy (\(users.rows)×\(users.cols)), items.npy (\(items.rows)×\(items.cols)), user_ids.txt, item_ids.txt")
    }
}
