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

struct CascadeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cascade", abstract: "The serving cascade: recall channels, then pre-ranking.",
                                                    subcommands: [EvalCascade.self])

    struct EvalCascade: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "eval",
            abstract: "Recall per channel and of the union, and metrics after pre-ranking, on the test split.",
            discussion: "Example: tandem cascade eval --channel runs/two-tower --channel runs/lightgcn --channel pop --ranker runs/two-tower")
        @Option(name: .customLong("channel"), help: "A model directory, or `pop`; repeat for each channel.") var channels: [String]
        @Option(help: "Model directory whose exact scores re-rank the union.") var ranker: String
        @Option(help: "Candidates each channel recalls per user.") var perChannel = 100
        @Option(help: "Index for the model channels: Flat or HNSW<M>[,efSearch=N].") var factory = "HNSW32"
        @Option(help: "Cut-offs after pre-ranking, comma-separated positive integers.") var ks = CutOffs([10, 20])

        func run() throws {
            let cuts = ks.values
            let rankerModel = reportingErrors { try ServingModel(modelDirectory: ranker, factory: "Flat") }
            let list: [RecallChannel] = channels.map { c in
                if c == "pop" { return .popularity(rankerModel) }
                let m = reportingErrors { try ServingModel(modelDirectory: c, factory: factory) }
                return .model(name: "\(m.modelKind) (\((c as NSString).lastPathComponent), \(factory))", m)
            }
            let t0 = Date()
            // Offline evaluation needs the split, which the ranker's config rebuilds (serving itself never reads data).
            let (_, ds, _) = reportingErrors { try ModelStore.load(from: ranker) }
            let evaluation = reportingErrors {
                try CascadeEvaluation(channels: list, ranker: rankerModel, split: ds.split, perChannel: perChannel, ks: cuts)
            }
            let rows = evaluation.run()
            print(CascadeEvaluation.table(rows, perChannel: perChannel, ks: cuts.sorted()))
            print(String(format: "pre-ranked by %@ (%@); %.1fs", rankerModel.modelKind, (ranker as NSString).lastPathComponent, Date().timeIntervalSince(t0)))
        }
    }
}
