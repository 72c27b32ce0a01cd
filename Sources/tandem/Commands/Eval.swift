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

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate a saved model directory on its validation and test split.")
    @Option(help: "Model directory written by `tandem train --output`.") var modelDir: String
    @Option(help: "Write the results JSON here.") var results: String?
    @Option(help: "Score a seeded sample of this many users (0: every user); default: the model's own eval_users.") var evalUsers: Int?

    func run() throws {
        let (saved, ds, model) = reportingErrors { try ModelStore.load(from: modelDir) }
        var cfg = saved
        if let evalUsers {
            guard evalUsers >= 0 else { fail("--eval-users must be ≥ 0 (0: every user)") }
            cfg.evaluation.evalUsers = evalUsers
        }
        configureThreads(cfg.training.threads)
        let protocolEval = cfg.evaluationProtocol(ds)
        let scorer = ModelStore.scorer(model, config: cfg, dataset: ds)
        let valid = protocolEval.valid.evaluate(scorer)
        let test = protocolEval.test.evaluate(scorer)
        let shown = cfg.evaluation.ks.flatMap { k in ["recall@\(k)", "ndcg@\(k)", "mrr@\(k)", "hit@\(k)"] }
        for (name, m) in [("valid", valid), ("test", test)] {
            print(name + "  " + shown.map { String(format: "%@ %.4f", $0, m[$0] ?? .nan) }.joined(separator: "  "))
            if let sampled = sampleSummary(m, ks: cfg.evaluation.ks) { print(name + " " + sampled) }
        }
        if let results {
            reportingErrors {
                let data = try JSONSerialization.data(withJSONObject: ["valid": valid, "test": test, "model": cfg.model.rawValue], options: [.prettyPrinted, .sortedKeys])
                try AtomicFile.write(data, to: results)
            }
        }
    }
}
