import CTAP
import Foundation
import Logging

/// One key's answers to user presence and built-in user verification, changeable while it
/// runs (the control API): the policy (`--presence`), whether verification succeeds (CDP
/// isUserVerified), a held touch (the Pico controller's touch/on), and the prompts waiting
/// for an answer. Every prompt is reported to `events` as it starts and as it is answered.
public actor KeyPresence: UserPresence {
    /// A prompt waiting for `approve`/`deny`.
    public struct Prompt: Sendable {
        public let id: Int
        public let request: UserPresenceRequest
        public let startedAt: Date
    }

    struct Waiting {
        let prompt: Prompt
        let answer: CheckedContinuation<UserPresenceResult, Never>
    }

    public private(set) var policy: PresencePolicy
    /// Built-in user verification succeeds (true) or fails (false) when answered automatically.
    public private(set) var userVerified = true
    /// A finger held on the key: every prompt is approved at once, whatever the policy.
    public private(set) var touching = false
    public nonisolated let timeout: Duration
    let terminal: TerminalPresence?
    let pinentry: PinentryPresence?
    let notify: NotifyPresence?
    /// Where `vfido uv set` put this key's verification passphrase (a sealed key file), if anywhere.
    let uvKeyFile: URL?
    let events: EventHub?
    let key: Int
    let logger: Logger?
    private var waiting: [Waiting] = []
    private var nextId = 0
    private var arrivals: [CheckedContinuation<Void, Never>] = []

    public init(policy: PresencePolicy, timeout: Duration, terminal: TerminalPresence? = nil, pinentry: PinentryPresence? = nil,
                notify: NotifyPresence? = nil, uvKeyFile: URL? = nil, events: EventHub? = nil, key: Int = 1, logger: Logger? = nil) {
        self.logger = logger
        self.pinentry = pinentry
        self.notify = notify
        self.uvKeyFile = uvKeyFile
        self.policy = policy
        self.timeout = timeout
        self.terminal = terminal
        self.events = events
        self.key = key
    }

    public func confirm(_ request: UserPresenceRequest) async -> UserPresenceResult {
        nextId += 1
        let prompt = Prompt(id: nextId, request: request, startedAt: Date())
        events?.publish(key: key, .promptStarted(id: prompt.id, request))
        let result: UserPresenceResult
        let answeredBy: String
        if Task.isCancelled {
            (result, answeredBy) = (.cancelled, "host")
        } else if touching {
            (result, answeredBy) = (automatic(request), "touch")
        } else {
            switch policy {
            case .auto, .deny: (result, answeredBy) = (automatic(request), policy.rawValue)
            case .terminal:
                if let terminal {
                    (result, answeredBy) = (await terminal.confirm(request), "terminal")
                } else {
                    (result, answeredBy) = (.denied, "no terminal")
                }
            case .control: (result, answeredBy) = await wait(prompt)
            case .pinentry, .notify:
                (result, answeredBy) = await desktop(request)
            }
        }
        events?.publish(key: key, .promptAnswered(id: prompt.id, request, result: result, by: answeredBy))
        if [.control, .pinentry, .notify].contains(policy) || answeredBy == "touch" {
            logger?.info("key \(key): \(result) \(request.summary) (by \(answeredBy))")
        }
        return result
    }

    /// The desktop policies: verification by passphrase (only a pinentry can take one) when
    /// `vfido uv set` gave the key one, else the dialog or the notification.
    private func desktop(_ request: UserPresenceRequest) async -> (UserPresenceResult, String) {
        if request.verification && passphraseSet, let uvKeyFile {
            guard let pinentry else { return (.denied, "no pinentry") }
            return (await pinentry.verify(request, against: uvKeyFile), "pinentry passphrase")
        }
        if policy == .notify, let notify { return (await notify.confirm(request), "notification") }
        guard let pinentry else { return (.denied, "no pinentry") }
        return (await pinentry.confirm(request), "pinentry")
    }

    /// Whether `vfido uv set` gave this key a verification passphrase.
    private var passphraseSet: Bool { uvKeyFile.map { FileManager.default.fileExists(atPath: $0.path) } ?? false }

    /// What `auto`, `deny` and a held touch answer.
    private func automatic(_ request: UserPresenceRequest) -> UserPresenceResult {
        if policy == .deny && !touching { return .denied }
        return request.verification && !userVerified ? .denied : .approved
    }

    private func wait(_ prompt: Prompt) async -> (UserPresenceResult, String) {
        let id = prompt.id
        let timeout = self.timeout
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.resolve(id: id, with: .timedOut)
        }
        defer { timer.cancel() }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (answer: CheckedContinuation<UserPresenceResult, Never>) in
                waiting.append(Waiting(prompt: prompt, answer: answer))
                for arrival in arrivals { arrival.resume() }
                arrivals = []
                if Task.isCancelled { resolve(id: id, with: .cancelled) }
            }
        } onCancel: {
            Task { await self.resolve(id: id, with: .cancelled) }
        }
        let by: String
        switch result {
        case .timedOut: by = "timeout"
        case .cancelled: by = "host"
        default: by = "control"
        }
        return (result, by)
    }

    private func resolve(id: Int, with result: UserPresenceResult) {
        guard let index = waiting.firstIndex(where: { $0.prompt.id == id }) else { return }
        waiting.remove(at: index).answer.resume(returning: result)
    }

    /// What is waiting for an answer, oldest first.
    public var pending: [Prompt] { waiting.map(\.prompt) }

    /// Answers a waiting prompt (the oldest, or the one with `id`); waits up to `wait` for one
    /// to appear. Returns the prompt answered, or nil when none was waiting.
    public func answer(_ approve: Bool, id: Int? = nil, wait: Duration = .zero) async -> Prompt? {
        let deadline = ContinuousClock.now + wait
        while true {
            if let index = id.map({ id in waiting.firstIndex { $0.prompt.id == id } }) ?? (waiting.isEmpty ? nil : 0) {
                let chosen = waiting.remove(at: index)
                chosen.answer.resume(returning: approve ? .approved : .denied)
                return chosen.prompt
            }
            // Wake when a prompt arrives or the wait is over, whichever is first.
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return nil }
            let timer = Task { [weak self] in
                try? await Task.sleep(for: remaining)
                await self?.wakeArrivals()
            }
            await withCheckedContinuation { arrivals.append($0) }
            timer.cancel()
        }
    }

    private func wakeArrivals() {
        for arrival in arrivals { arrival.resume() }
        arrivals = []
    }

    /// Changes the policy; prompts already waiting are answered as the new policy would.
    public func setPolicy(_ new: PresencePolicy) {
        policy = new
        if new == .auto || new == .deny { answerWaiting() }
    }

    public func setUserVerified(_ verified: Bool) { userVerified = verified }

    /// Puts a finger on the key (waiting prompts are answered) or takes it off.
    public func setTouching(_ touching: Bool) {
        self.touching = touching
        if touching { answerWaiting() }
    }

    private func answerWaiting() {
        let all = waiting
        waiting = []
        for entry in all { entry.answer.resume(returning: automatic(entry.prompt.request)) }
    }
}
