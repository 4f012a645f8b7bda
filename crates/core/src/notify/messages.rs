//! The operator message catalogue: every [`Event`] rendered as Telegram text in
//! English or Chinese (`NOTIFY_LANG`).
//!
//! Pure functions only — no I/O, no clock. A message is
//! `"<prefix>:\n<body>"`; a body is a title line (emoji, bracketed title and
//! the symbol where one applies) followed by `Label: value` lines. Optional
//! numbers that are missing (or not finite) print as `n/a`.

use super::event::{Event, Lang, SellReason, StatusReport};

/// Longest body [`coalesce`] returns, in chars (Telegram's hard limit is 4096).
const COALESCE_LIMIT: usize = 4000;

/// Longest error / detail text quoted in one message, in chars.
const DETAIL_LIMIT: usize = 1200;

/// Separator line of the status report.
const SEPARATOR: &str = "━━━━━━━━━━━━━━━━━━";

/// What a missing optional value prints as.
const NA: &str = "n/a";

/// Parses NOTIFY_LANG-style values: "en" / "zh" (trimmed, case-insensitive);
/// anything else Err(String) naming the value and the allowed ones.
pub fn parse_lang(value: &str) -> Result<Lang, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "en" => Ok(Lang::En),
        "zh" => Ok(Lang::Zh),
        _ => Err(format!("unsupported NOTIFY_LANG value {value:?}: allowed values are \"en\" and \"zh\"")),
    }
}

/// Title prefix of every Telegram message; the full text is
/// `"<prefix>:\n<body>"`.
pub fn prefix(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "🤖 tradecycle",
        Lang::Zh => "🤖 tradecycle 加密量化",
    }
}

/// Localised strategy display name.
pub fn strategy_display_name(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Crypto Live Pool Rotation",
        Lang::Zh => "加密实时池轮动",
    }
}

/// Localised sell reason text, e.g. "ATR trailing stop hit (stop 110.00)".
pub fn sell_reason_text(reason: &SellReason, lang: Lang) -> String {
    match (reason, lang) {
        (SellReason::MissingIndicators, Lang::En) => "No indicators any more (symbol left the pool)".to_string(),
        (SellReason::MissingIndicators, Lang::Zh) => "指标缺失（该币已移出池子）".to_string(),
        (SellReason::RotatedOut, Lang::En) => "No longer a selected candidate".to_string(),
        (SellReason::RotatedOut, Lang::Zh) => "已不在入选名单中（轮动换出）".to_string(),
        (SellReason::BelowSma60, Lang::En) => "Price dropped below the 60-day SMA".to_string(),
        (SellReason::BelowSma60, Lang::Zh) => "价格跌破 60 日均线".to_string(),
        (SellReason::AtrStop { stop_price }, Lang::En) => {
            format!("ATR trailing stop hit (stop {})", fixed(*stop_price, 2))
        }
        (SellReason::AtrStop { stop_price }, Lang::Zh) => {
            format!("触发 ATR 移动止损（止损价 {}）", fixed(*stop_price, 2))
        }
        (SellReason::DailyCircuitBreaker, Lang::En) => "Daily circuit breaker".to_string(),
        (SellReason::DailyCircuitBreaker, Lang::Zh) => "日内熔断清仓".to_string(),
    }
}

/// Status-report manual hint (behaviour.md §6.9), first match wins:
/// AHR999 < 0.45 deep value; < 0.8 low value; Z-Score ≥ trigger
/// profit-taking; Z-Score ≥ 0.9 × trigger near profit-taking; else neutral.
/// A check whose inputs are missing (or not finite) is skipped, so missing
/// inputs end in the neutral hint.
pub fn manual_hint(ahr999: Option<f64>, zscore: Option<f64>, sell_trigger: Option<f64>, lang: Lang) -> &'static str {
    let ahr = ahr999.filter(|v| v.is_finite());
    let z_and_trigger = match (zscore, sell_trigger) {
        (Some(z), Some(t)) if z.is_finite() && t.is_finite() => Some((z, t)),
        _ => None,
    };
    let hint = if ahr.is_some_and(|a| a < 0.45) {
        Hint::DeepValue
    } else if ahr.is_some_and(|a| a < 0.8) {
        Hint::LowValue
    } else if z_and_trigger.is_some_and(|(z, t)| z >= t) {
        Hint::ProfitTaking
    } else if z_and_trigger.is_some_and(|(z, t)| z >= 0.9 * t) {
        Hint::NearProfitTaking
    } else {
        Hint::Neutral
    };
    match (hint, lang) {
        (Hint::DeepValue, Lang::En) => {
            "AHR999 is in deep-value territory: historically a strong zone to add BTC by hand."
        }
        (Hint::DeepValue, Lang::Zh) => "AHR999 处于深度低估区，历史上是手动加仓 BTC 的好时机。",
        (Hint::LowValue, Lang::En) => "AHR999 is low: BTC trades below fair value, steady accumulation makes sense.",
        (Hint::LowValue, Lang::Zh) => "AHR999 偏低，BTC 低于合理估值，适合继续分批积累。",
        (Hint::ProfitTaking, Lang::En) => "Z-Score has reached the sell threshold: consider taking some BTC profit.",
        (Hint::ProfitTaking, Lang::Zh) => "Z 分数已到卖出阈值，可考虑分批兑现部分 BTC 利润。",
        (Hint::NearProfitTaking, Lang::En) => {
            "Z-Score is close to the sell threshold: have a profit-taking plan ready."
        }
        (Hint::NearProfitTaking, Lang::Zh) => "Z 分数逼近卖出阈值，建议提前准备止盈计划。",
        (Hint::Neutral, Lang::En) => "No strong signal: hold and let the strategy do its work.",
        (Hint::Neutral, Lang::Zh) => "暂无明显信号，保持持有，交给策略自动执行。",
    }
}

#[derive(Clone, Copy)]
enum Hint {
    DeepValue,
    LowValue,
    ProfitTaking,
    NearProfitTaking,
    Neutral,
}

/// prefix + ":\n" + render(...)
pub fn render_full(event: &Event, lang: Lang, strategy_name: &str) -> String {
    format!("{}:\n{}", prefix(lang), render(event, lang, strategy_name))
}

/// The body of one event, multi-line: a title line (emoji + bracketed title +
/// " SYMBOL" where relevant) then "Label: value" lines. `strategy_name` is
/// shown by the status report (pass [`strategy_display_name`] or the
/// configured name).
pub fn render(event: &Event, lang: Lang, strategy_name: &str) -> String {
    let l = Labels::of(lang);
    let zh = lang == Lang::Zh;
    let pick = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    let mut m = Body::default();
    match event {
        Event::TrendBuy { symbol, price, budget, weight, relative_score, quantity } => {
            m.title(pick("🟢 [Trend Buy]", "🟢 [趋势买入]"), Some(symbol));
            m.line(l.price, usd(*price, 2));
            m.line(l.budget, usd(*budget, 2));
            m.line(l.weight, percent(*weight, 0));
            m.line(l.rel_score, fixed(*relative_score, 2));
            m.line(l.quantity, quantity);
        }
        Event::TrendBuySkipped { symbol, detail } => {
            m.title(pick("⏭️ [Trend Buy Skipped]", "⏭️ [趋势买入已跳过]"), Some(symbol));
            m.line(l.detail, clip(detail));
        }
        Event::TrendBuyFailed { symbol, error } => {
            m.title(pick("❌ [Trend Buy Failed]", "❌ [趋势买入失败]"), Some(symbol));
            m.line(l.error, clip(error));
        }
        Event::TrendSell { symbol, reason, price, quantity } => {
            m.title(pick("🔴 [Trend Sell]", "🔴 [趋势卖出]"), Some(symbol));
            m.line(l.reason, sell_reason_text(reason, lang));
            m.line(l.price, usd(*price, 2));
            m.line(l.quantity, quantity);
        }
        Event::TrendSellSkipped { symbol, reason, detail } => {
            m.title(pick("⏭️ [Trend Sell Skipped]", "⏭️ [趋势卖出已跳过]"), Some(symbol));
            m.line(l.reason, sell_reason_text(reason, lang));
            m.line(l.detail, clip(detail));
        }
        Event::TrendSellFailed { symbol, reason, error } => {
            m.title(pick("❌ [Trend Sell Failed]", "❌ [趋势卖出失败]"), Some(symbol));
            m.line(l.reason, sell_reason_text(reason, lang));
            m.line(l.error, clip(error));
        }
        Event::CircuitBreakerSellSkipped { symbol, detail } => {
            m.title(pick("⏭️ [Breaker Sell Skipped]", "⏭️ [熔断卖出已跳过]"), Some(symbol));
            m.line(l.detail, clip(detail));
        }
        Event::CircuitBreakerSellFailed { symbol, error } => {
            m.title(pick("❌ [Breaker Sell Failed]", "❌ [熔断卖出失败]"), Some(symbol));
            m.line(l.error, clip(error));
        }
        Event::CircuitBreaker { pnl } => {
            m.title(pick("🚨 [Circuit Breaker]", "🚨 [熔断触发]"), None);
            m.line(l.trend_pnl, signed_percent(*pnl, 2));
            m.line(
                l.halted,
                pick(
                    "trend sleeve — positions sold, no new trend entries until the UTC-day reset",
                    "趋势仓位 —— 已清仓，UTC 日切重置前不再开新趋势仓",
                ),
            );
            m.line(
                l.still_running,
                pick("BTC DCA, USDT Earn buffer, status report", "BTC 定投、USDT 理财缓冲、状态报告"),
            );
        }
        Event::DcaBuy { ahr999, btc_target_ratio, quantity } => {
            m.title(pick("🟠 [BTC DCA Buy]", "🟠 [BTC 定投买入]"), Some("BTCUSDT"));
            m.line("AHR999", fixed(*ahr999, 2));
            m.line(l.target_alloc, percent(*btc_target_ratio, 1));
            m.line(l.quantity, quantity);
        }
        Event::DcaBuySkipped { detail } => {
            m.title(pick("⏭️ [BTC DCA Buy Skipped]", "⏭️ [BTC 定投买入已跳过]"), Some("BTCUSDT"));
            m.line(l.detail, clip(detail));
        }
        Event::DcaBuyFailed { error } => {
            m.title(pick("❌ [BTC DCA Buy Failed]", "❌ [BTC 定投买入失败]"), Some("BTCUSDT"));
            m.line(l.error, clip(error));
        }
        Event::DcaTrim { zscore, sell_pct, quantity } => {
            m.title(pick("🟣 [BTC DCA Trim]", "🟣 [BTC 定投减仓]"), Some("BTCUSDT"));
            m.line(l.zscore, fixed(*zscore, 2));
            m.line(l.ratio, percent(*sell_pct, 1));
            m.line(l.quantity, quantity);
        }
        Event::DcaTrimSkipped { detail } => {
            m.title(pick("⏭️ [BTC DCA Trim Skipped]", "⏭️ [BTC 定投减仓已跳过]"), Some("BTCUSDT"));
            m.line(l.detail, clip(detail));
        }
        Event::DcaTrimFailed { error } => {
            m.title(pick("❌ [BTC DCA Trim Failed]", "❌ [BTC 定投减仓失败]"), Some("BTCUSDT"));
            m.line(l.error, clip(error));
        }
        Event::FuelTopUpFailed { error } => {
            m.title(pick("⛽ [BNB Top-up Failed]", "⛽ [BNB 补仓失败]"), Some("BNBUSDT"));
            m.line(l.error, clip(error));
        }
        Event::RedeemFailed { asset, error } => {
            m.title(pick("🏦 [Earn Redemption Failed]", "🏦 [理财赎回失败]"), Some(asset));
            m.line(l.error, clip(error));
        }
        Event::SubscribeFailed { asset, amount, error } => {
            m.title(pick("🏦 [Earn Subscription Failed]", "🏦 [理财申购失败]"), Some(asset));
            m.line(l.quantity, amount);
            m.line(l.error, clip(error));
            m.line(
                l.note,
                pick(
                    "the money stays on spot; a later run moves it to Earn",
                    "资金留在现货账户，之后的运行会再转入理财",
                ),
            );
        }
        Event::SkippedForFunds { symbol, detail } => {
            m.title(pick("💸 [Order Skipped: Not Enough Funds]", "💸 [资金不足，订单未执行]"), Some(symbol));
            m.line(l.detail, clip(detail));
        }
        Event::OrderUnresolved { symbol, client_order_id } => {
            m.title(pick("❓ [Order Outcome Unknown]", "❓ [订单结果未知]"), Some(symbol));
            m.line(l.client_order_id, client_order_id);
            m.line(
                l.note,
                pick(
                    "kept in the pending ledger; it will be reconciled on the next run and not re-sent",
                    "已记入待确认订单，将在下次运行时核对，不会重新下单",
                ),
            );
        }
        Event::OrderAttention { detail } => {
            m.title(pick("🛑 [Orders Need Attention]", "🛑 [订单需要人工处理]"), None);
            m.line(l.error, clip(detail));
            m.line(
                l.note,
                pick(
                    "no new risk is taken where this applies until it is resolved",
                    "在此问题解决之前，相关部分不会新增风险",
                ),
            );
        }
        Event::StatusReport(report) => render_status(&mut m, report, lang, strategy_name),
        Event::ApiError { error } => {
            m.title(pick("⚠️ [Binance API Error]", "⚠️ [币安 API 异常]"), None);
            m.line(l.error, clip(error));
            m.line(
                l.note,
                pick(
                    "Binance could not be reached; nothing was traded this run",
                    "无法连接币安，本次运行未进行任何交易",
                ),
            );
        }
        Event::SystemCrash { error } => {
            m.title(pick("💥 [Cycle Crashed]", "💥 [运行中断]"), None);
            m.line(l.error, clip(error));
            m.line(
                l.note,
                pick(
                    "orders already executed this run stay executed; the rest of the cycle was skipped",
                    "本次已成交的订单保持有效，其余步骤已跳过",
                ),
            );
        }
        Event::StateLoadFailed { error } => {
            m.title(pick("🗄️ [State Load Failed]", "🗄️ [状态读取失败]"), None);
            m.line(l.error, clip(error));
            m.line(
                l.note,
                pick(
                    "the state could not be read; nothing was traded this run",
                    "无法读取状态，本次运行未进行任何交易",
                ),
            );
        }
        Event::StateSaveFailed { error, path } => {
            m.title(pick("💾 [State Save Failed]", "💾 [状态保存失败]"), None);
            m.line(l.error, clip(error));
            m.line(l.recovery_file, path);
            m.line(
                l.note,
                pick(
                    "the stored state may lack this run's changes; the full would-be state is in the recovery file",
                    "已存状态可能缺少本次运行的变更，完整的应存状态见恢复文件",
                ),
            );
        }
        Event::Alert(notice) => m.raw(&super::alert_messages::render(notice, lang)),
    }
    m.finish()
}

/// The periodic status report (behaviour.md §6.9).
fn render_status(m: &mut Body, r: &StatusReport, lang: Lang, strategy_name: &str) {
    let zh = lang == Lang::Zh;
    let pick = |en: &'static str, cn: &'static str| if zh { cn } else { en };
    m.raw(pick("💓 Crypto Status", "💓 加密状态"));
    m.line(pick("🧭 Strategy", "🧭 策略"), strategy_name);
    m.raw(SEPARATOR);
    m.line(pick("💰 Total Equity", "💰 总净值"), usd_thousands(r.total_equity));
    m.line(
        pick("🔥 Trend Holdings", "🔥 趋势持仓"),
        format!("{} ({})", usd_thousands(r.trend_equity), signed_percent(r.trend_daily_pnl, 1)),
    );
    m.line(pick("₿ BTC Price", "₿ BTC 价格"), usd_thousands(r.btc_price));
    m.raw(SEPARATOR);
    m.line(
        pick("🚦 BTC Gate", "🚦 BTC 闸门"),
        match (r.regime_on, zh) {
            (true, false) => "ON",
            (false, false) => "OFF",
            (true, true) => "开启",
            (false, true) => "关闭",
        },
    );
    m.raw(&format!(
        "📊 Ahr999: {} | {}: {} ({} {})",
        opt_fixed(r.ahr999, 2),
        pick("Z-Score", "Z 分数"),
        opt_fixed(r.zscore, 1),
        pick("Threshold", "阈值"),
        opt_fixed(r.sell_trigger, 1),
    ));
    m.line(pick("🎯 BTC Target Allocation", "🎯 BTC 目标配置"), percent(r.btc_target_ratio, 1));
    let holdings = if r.holdings.is_empty() { pick("none", "空仓").to_string() } else { r.holdings.join(", ") };
    m.line(pick("📌 Holdings", "📌 持仓"), holdings);
    m.raw(SEPARATOR);
    m.raw(&format!("💡 {}", manual_hint(r.ahr999, r.zscore, r.sell_trigger, lang)));
}

/// Coalesces several bodies into one message (used when a burst would exceed
/// Telegram limits): joined with a blank line, and when longer than 4000
/// chars cut on a char boundary and ended with a note counting the bodies
/// not shown in full, e.g. "…(3 more, truncated)". The result never exceeds
/// 4000 chars.
pub fn coalesce(bodies: &[String], lang: Lang) -> String {
    let joined = bodies.join("\n\n");
    if joined.chars().count() <= COALESCE_LIMIT {
        return joined;
    }
    let note = |n: usize| match lang {
        Lang::En => format!("\n…({n} more, truncated)"),
        Lang::Zh => format!("\n…(另有 {n} 条，已截断)"),
    };
    // Room for the longest possible note, so the final text fits.
    let keep = COALESCE_LIMIT.saturating_sub(note(bodies.len()).chars().count());
    // A body is shown in full iff it ends at or before `keep` chars.
    let mut end = 0usize;
    let mut not_in_full = 0usize;
    for (i, body) in bodies.iter().enumerate() {
        end += body.chars().count() + if i == 0 { 0 } else { 2 };
        if end > keep {
            not_in_full += 1;
        }
    }
    let cut = joined.char_indices().nth(keep).map_or(joined.len(), |(byte, _)| byte);
    let mut out = joined[..cut].trim_end().to_string();
    out.push_str(&note(not_in_full));
    out
}

/// Packs bodies, in order, into as few messages as possible: each message
/// is the [`coalesce`] of a run of consecutive bodies that fits without
/// truncation (greedy, which is optimal for an order-keeping split). A single
/// body too long on its own goes alone and is truncated by [`coalesce`].
/// Returns, per message, how many bodies it carries and its text.
pub fn coalesce_batches(bodies: &[String], lang: Lang) -> Vec<(usize, String)> {
    let mut batches = Vec::new();
    let mut start = 0usize;
    let mut chars = 0usize;
    for (i, body) in bodies.iter().enumerate() {
        let len = body.chars().count();
        if i > start && chars + 2 + len > COALESCE_LIMIT {
            batches.push((i - start, coalesce(&bodies[start..i], lang)));
            start = i;
            chars = 0;
        }
        chars += if i == start { len } else { 2 + len };
    }
    if start < bodies.len() {
        batches.push((bodies.len() - start, coalesce(&bodies[start..], lang)));
    }
    batches
}

/// Localised labels of the `Label: value` lines.
struct Labels {
    price: &'static str,
    reason: &'static str,
    budget: &'static str,
    weight: &'static str,
    rel_score: &'static str,
    quantity: &'static str,
    target_alloc: &'static str,
    ratio: &'static str,
    zscore: &'static str,
    error: &'static str,
    detail: &'static str,
    note: &'static str,
    trend_pnl: &'static str,
    halted: &'static str,
    still_running: &'static str,
    client_order_id: &'static str,
    recovery_file: &'static str,
}

impl Labels {
    fn of(lang: Lang) -> Labels {
        match lang {
            Lang::En => Labels {
                price: "Price",
                reason: "Reason",
                budget: "Budget",
                weight: "Rotation Weight",
                rel_score: "Relative BTC Score",
                quantity: "Quantity",
                target_alloc: "Target Allocation",
                ratio: "Ratio",
                zscore: "Z-Score",
                error: "Error",
                detail: "Detail",
                note: "Note",
                trend_pnl: "Trend Daily PnL",
                halted: "Halted",
                still_running: "Still Running",
                client_order_id: "Client Order ID",
                recovery_file: "Recovery File",
            },
            Lang::Zh => Labels {
                price: "价格",
                reason: "原因",
                budget: "预算",
                weight: "轮动权重",
                rel_score: "相对 BTC 强度",
                quantity: "数量",
                target_alloc: "目标配置",
                ratio: "比例",
                zscore: "Z 分数",
                error: "错误",
                detail: "详情",
                note: "说明",
                trend_pnl: "趋势日内盈亏",
                halted: "已暂停",
                still_running: "照常运行",
                client_order_id: "客户订单号",
                recovery_file: "恢复文件",
            },
        }
    }
}

/// Line builder for a message body.
#[derive(Default)]
struct Body {
    lines: Vec<String>,
}

impl Body {
    fn title(&mut self, title: &str, symbol: Option<&str>) {
        match symbol {
            Some(s) => self.lines.push(format!("{title} {s}")),
            None => self.lines.push(title.to_string()),
        }
    }

    fn line(&mut self, label: &str, value: impl AsRef<str>) {
        self.lines.push(format!("{label}: {}", value.as_ref()));
    }

    fn raw(&mut self, text: &str) {
        self.lines.push(text.to_string());
    }

    fn finish(self) -> String {
        self.lines.join("\n")
    }
}

/// Cuts an error / detail text to [`DETAIL_LIMIT`] chars, marking the cut.
fn clip(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(DETAIL_LIMIT) {
        Some((byte, _)) => format!("{}…", &text[..byte]),
        None => text.to_string(),
    }
}

/// `value` with `decimals` decimals; `n/a` if not finite; never "-0.00".
fn fixed(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return NA.to_string();
    }
    let s = format!("{value:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') { s[1..].to_string() } else { s }
}

fn opt_fixed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| NA.to_string(), |v| fixed(v, decimals))
}

/// `$` amount with `decimals` decimals, no grouping ("$2500.00").
fn usd(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return NA.to_string();
    }
    let s = fixed(value, decimals);
    match s.strip_prefix('-') {
        Some(abs) => format!("-${abs}"),
        None => format!("${s}"),
    }
}

/// `$` amount, 0 decimals, thousands separators ("$12,346", "-$1,234").
fn usd_thousands(value: f64) -> String {
    if !value.is_finite() {
        return NA.to_string();
    }
    let s = thousands(value);
    match s.strip_prefix('-') {
        Some(abs) => format!("-${abs}"),
        None => format!("${s}"),
    }
}

/// `value` rounded to an integer with `,` every three digits ("1,234,567",
/// "-1,234"); `n/a` if not finite; never "-0".
fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return NA.to_string();
    }
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if value < 0.0 && digits.chars().any(|c| c != '0') { format!("-{grouped}") } else { grouped }
}

/// A fraction as a percent with `decimals` decimals (0.3 → "30.0%").
fn percent(fraction: f64, decimals: usize) -> String {
    if !fraction.is_finite() {
        return NA.to_string();
    }
    format!("{}%", fixed(fraction * 100.0, decimals))
}

/// A fraction as a signed percent (0.012 → "+1.2%", -0.005 → "-0.5%",
/// tiny values → "+0.0%").
fn signed_percent(fraction: f64, decimals: usize) -> String {
    if !fraction.is_finite() {
        return NA.to_string();
    }
    let s = fixed(fraction * 100.0, decimals);
    if s.starts_with('-') { format!("{s}%") } else { format!("+{s}%") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(lang_hint_ahr: Option<f64>) -> StatusReport {
        StatusReport {
            total_equity: 12_345.67,
            trend_equity: 4_000.4,
            trend_daily_pnl: 0.012,
            btc_price: 65_432.1,
            regime_on: true,
            ahr999: lang_hint_ahr,
            zscore: Some(1.23),
            sell_trigger: Some(3.0),
            btc_target_ratio: 0.2509,
            holdings: vec!["ETHUSDT".into(), "SOLUSDT".into()],
        }
    }

    /// One event of every variant.
    fn all_events() -> Vec<Event> {
        vec![
            Event::TrendBuy {
                symbol: "ETHUSDT".into(),
                price: 2500.0,
                budget: 500.0,
                weight: 0.6,
                relative_score: 1.234,
                quantity: "0.1970".into(),
            },
            Event::TrendBuySkipped { symbol: "ETHUSDT".into(), detail: "quantity rounds to zero".into() },
            Event::TrendBuyFailed { symbol: "ETHUSDT".into(), error: "insufficient balance".into() },
            Event::TrendSell {
                symbol: "SOLUSDT".into(),
                reason: SellReason::AtrStop { stop_price: 110.0 },
                price: 105.5,
                quantity: "4.75".into(),
            },
            Event::TrendSellSkipped {
                symbol: "SOLUSDT".into(),
                reason: SellReason::RotatedOut,
                detail: "below min notional".into(),
            },
            Event::TrendSellFailed {
                symbol: "SOLUSDT".into(),
                reason: SellReason::BelowSma60,
                error: "timeout".into(),
            },
            Event::CircuitBreakerSellSkipped { symbol: "ADAUSDT".into(), detail: "quantity rounds to zero".into() },
            Event::CircuitBreakerSellFailed { symbol: "ADAUSDT".into(), error: "-2010 rejected".into() },
            Event::CircuitBreaker { pnl: -0.0523 },
            Event::DcaBuy { ahr999: 0.65, btc_target_ratio: 0.2509, quantity: "0.00045".into() },
            Event::DcaBuySkipped { detail: "quantity rounds to zero".into() },
            Event::DcaBuyFailed { error: "timeout".into() },
            Event::DcaTrim { zscore: 4.2, sell_pct: 0.3, quantity: "0.003".into() },
            Event::DcaTrimSkipped { detail: "quantity rounds to zero".into() },
            Event::DcaTrimFailed { error: "timeout".into() },
            Event::FuelTopUpFailed { error: "no spot USDT".into() },
            Event::RedeemFailed { asset: "USDT".into(), error: "product paused".into() },
            Event::OrderUnresolved { symbol: "ETHUSDT".into(), client_order_id: "tc-26032908-tb-ETHUSDT".into() },
            Event::StatusReport(status(Some(0.7))),
            Event::OrderAttention { detail: "order tc-26032908-tb-ETHUSDT is quarantined".into() },
            Event::ApiError { error: "connection reset".into() },
            Event::SystemCrash { error: "panic in planner".into() },
            Event::StateLoadFailed { error: "permission denied".into() },
            Event::StateSaveFailed { error: "quota exceeded".into(), path: "artifacts/state-recovery.json".into() },
            Event::SubscribeFailed {
                asset: "USDT".into(),
                amount: "71.5".into(),
                error: "-6009 Request frequency too high".into(),
            },
            Event::SkippedForFunds {
                symbol: "ETHUSDT".into(),
                detail: "insufficient free USDT: need 600, spot has 300".into(),
            },
            Event::Alert(crate::notify::event::AlertNotice {
                change: crate::domain::alerts::Change::Raised,
                key: "pool_static".into(),
                severity: crate::domain::alerts::Severity::Sev2,
                scope: "upstream pool".into(),
                reason: "the upstream pool came from static".into(),
                first_seen: "2026-03-29T08:00:00Z".into(),
                runbook: "Upstream pool stale or malformed".into(),
            }),
        ]
    }

    /// Exhaustive on purpose: a new variant fails to compile here until it is
    /// added to `all_events`.
    fn variant_index(event: &Event) -> usize {
        match event {
            Event::TrendBuy { .. } => 0,
            Event::TrendBuySkipped { .. } => 1,
            Event::TrendBuyFailed { .. } => 2,
            Event::TrendSell { .. } => 3,
            Event::TrendSellSkipped { .. } => 4,
            Event::TrendSellFailed { .. } => 5,
            Event::CircuitBreakerSellSkipped { .. } => 6,
            Event::CircuitBreakerSellFailed { .. } => 7,
            Event::CircuitBreaker { .. } => 8,
            Event::DcaBuy { .. } => 9,
            Event::DcaBuySkipped { .. } => 10,
            Event::DcaBuyFailed { .. } => 11,
            Event::DcaTrim { .. } => 12,
            Event::DcaTrimSkipped { .. } => 13,
            Event::DcaTrimFailed { .. } => 14,
            Event::FuelTopUpFailed { .. } => 15,
            Event::RedeemFailed { .. } => 16,
            Event::OrderUnresolved { .. } => 17,
            Event::StatusReport(_) => 18,
            Event::ApiError { .. } => 19,
            Event::SystemCrash { .. } => 20,
            Event::StateLoadFailed { .. } => 21,
            Event::StateSaveFailed { .. } => 22,
            Event::OrderAttention { .. } => 23,
            Event::SubscribeFailed { .. } => 24,
            Event::SkippedForFunds { .. } => 25,
            Event::Alert(_) => 26,
        }
    }

    const NAME: &str = "Crypto Live Pool Rotation";

    #[test]
    fn every_variant_renders_in_both_languages() {
        let events = all_events();
        let mut seen: Vec<usize> = events.iter().map(variant_index).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..27).collect::<Vec<_>>(), "one event per variant");
        for event in &events {
            for lang in [Lang::En, Lang::Zh] {
                let body = render(event, lang, strategy_display_name(lang));
                assert!(!body.trim().is_empty(), "{} {lang:?}", event.name());
                assert!(body.lines().count() >= 2, "{} {lang:?}", event.name());
                assert!(!body.contains("NaN"), "{body}");
                let full = render_full(event, lang, NAME);
                assert!(full.starts_with(&format!("{}:\n", prefix(lang))));
            }
            let en = render(event, Lang::En, NAME);
            let zh = render(event, Lang::Zh, NAME);
            assert_ne!(en, zh, "{} must be translated", event.name());
        }
    }

    #[test]
    fn trend_buy_exact_en() {
        let text = render_full(&all_events()[0], Lang::En, NAME);
        assert_eq!(
            text,
            "🤖 tradecycle:\n\
             🟢 [Trend Buy] ETHUSDT\n\
             Price: $2500.00\n\
             Budget: $500.00\n\
             Rotation Weight: 60%\n\
             Relative BTC Score: 1.23\n\
             Quantity: 0.1970"
        );
    }

    #[test]
    fn trend_sell_atr_stop_exact_en() {
        let text = render_full(&all_events()[3], Lang::En, NAME);
        assert_eq!(
            text,
            "🤖 tradecycle:\n\
             🔴 [Trend Sell] SOLUSDT\n\
             Reason: ATR trailing stop hit (stop 110.00)\n\
             Price: $105.50\n\
             Quantity: 4.75"
        );
    }

    #[test]
    fn circuit_breaker_exact_en_and_only_trend_halts() {
        let event = Event::CircuitBreaker { pnl: -0.0523 };
        assert_eq!(
            render_full(&event, Lang::En, NAME),
            "🤖 tradecycle:\n\
             🚨 [Circuit Breaker]\n\
             Trend Daily PnL: -5.23%\n\
             Halted: trend sleeve — positions sold, no new trend entries until the UTC-day reset\n\
             Still Running: BTC DCA, USDT Earn buffer, status report"
        );
        let zh = render(&event, Lang::Zh, NAME);
        for fragment in ["熔断", "-5.23%", "BTC 定投", "USDT 理财缓冲", "状态报告"] {
            assert!(zh.contains(fragment), "{fragment} in {zh}");
        }
    }

    #[test]
    fn dca_trim_exact_en() {
        let text = render_full(&all_events()[12], Lang::En, NAME);
        assert_eq!(
            text,
            "🤖 tradecycle:\n\
             🟣 [BTC DCA Trim] BTCUSDT\n\
             Z-Score: 4.20\n\
             Ratio: 30.0%\n\
             Quantity: 0.003"
        );
    }

    #[test]
    fn status_report_exact_en() {
        let event = Event::StatusReport(status(Some(0.7)));
        assert_eq!(
            render(&event, Lang::En, NAME),
            "💓 Crypto Status\n\
             🧭 Strategy: Crypto Live Pool Rotation\n\
             ━━━━━━━━━━━━━━━━━━\n\
             💰 Total Equity: $12,346\n\
             🔥 Trend Holdings: $4,000 (+1.2%)\n\
             ₿ BTC Price: $65,432\n\
             ━━━━━━━━━━━━━━━━━━\n\
             🚦 BTC Gate: ON\n\
             📊 Ahr999: 0.70 | Z-Score: 1.2 (Threshold 3.0)\n\
             🎯 BTC Target Allocation: 25.1%\n\
             📌 Holdings: ETHUSDT, SOLUSDT\n\
             ━━━━━━━━━━━━━━━━━━\n\
             💡 AHR999 is low: BTC trades below fair value, steady accumulation makes sense."
        );
    }

    #[test]
    fn status_report_zh_fragments() {
        let event = Event::StatusReport(status(Some(0.7)));
        let text = render_full(&event, Lang::Zh, strategy_display_name(Lang::Zh));
        for fragment in [
            "💓 加密状态",
            "🧭 策略: 加密实时池轮动",
            "💰 总净值",
            "₿ BTC 价格",
            "AHR999 偏低",
            "💡 AHR999 偏低",
            "+1.2%",
            "$12,346",
        ] {
            assert!(text.contains(fragment), "{fragment:?} missing in\n{text}");
        }
        assert_eq!(SEPARATOR.chars().count(), 18);
        assert_eq!(text.matches(SEPARATOR).count(), 3);
    }

    #[test]
    fn status_report_missing_values_and_flat() {
        let mut report = status(None);
        report.zscore = None;
        report.sell_trigger = None;
        report.regime_on = false;
        report.holdings.clear();
        report.trend_daily_pnl = -0.005;
        let en = render(&Event::StatusReport(report.clone()), Lang::En, NAME);
        assert!(en.contains("📊 Ahr999: n/a | Z-Score: n/a (Threshold n/a)"), "{en}");
        assert!(en.contains("🚦 BTC Gate: OFF"), "{en}");
        assert!(en.contains("📌 Holdings: none"), "{en}");
        assert!(en.contains("(-0.5%)"), "{en}");
        assert!(en.contains(&format!("💡 {}", manual_hint(None, None, None, Lang::En))));
        let zh = render(&Event::StatusReport(report), Lang::Zh, "x");
        assert!(zh.contains("Z 分数: n/a (阈值 n/a)"), "{zh}");
        assert!(zh.contains("🚦 BTC 闸门: 关闭"), "{zh}");
    }

    #[test]
    fn en_heartbeat_title_and_strategy_label() {
        let en = render(&Event::StatusReport(status(None)), Lang::En, "My Name");
        assert!(en.starts_with("💓 Crypto Status\n🧭 Strategy: My Name\n"), "{en}");
    }

    #[test]
    fn manual_hint_thresholds() {
        let h = |a, z, t| manual_hint(a, z, t, Lang::En);
        let deep = h(Some(0.3), None, None);
        let low = h(Some(0.7), None, None);
        let profit = h(Some(1.2), Some(3.1), Some(3.0));
        let near = h(Some(1.2), Some(2.8), Some(3.0));
        let neutral = h(Some(1.2), Some(1.0), Some(3.0));
        let all = [deep, low, profit, near, neutral];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert!(deep.contains("deep-value"));
        assert!(low.starts_with("AHR999 is low"));
        assert!(profit.contains("reached the sell threshold"));
        assert!(near.contains("close to the sell threshold"));
        assert!(neutral.starts_with("No strong signal"));
        // Boundaries: 0.45 is low, 0.8 falls through; z == trigger is profit.
        assert_eq!(h(Some(0.45), None, None), low);
        assert_eq!(h(Some(0.8), None, None), neutral);
        assert_eq!(h(Some(1.0), Some(3.0), Some(3.0)), profit);
        assert_eq!(h(Some(1.0), Some(2.7), Some(3.0)), near);
        assert_eq!(h(Some(1.0), Some(2.69), Some(3.0)), neutral);
        // AHR999 wins over Z-Score; missing inputs skip their check.
        assert_eq!(h(Some(0.3), Some(9.0), Some(3.0)), deep);
        assert_eq!(h(None, Some(3.1), Some(3.0)), profit);
        assert_eq!(h(Some(1.2), Some(3.1), None), neutral);
        assert_eq!(h(None, None, None), neutral);
        assert_eq!(h(Some(f64::NAN), Some(f64::NAN), Some(3.0)), neutral);
        // zh
        assert!(manual_hint(Some(0.7), None, None, Lang::Zh).starts_with("AHR999 偏低"));
        assert_ne!(manual_hint(Some(0.3), None, None, Lang::Zh), deep);
    }

    #[test]
    fn thousands_separator() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(-0.0), "0");
        assert_eq!(thousands(-0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(999.6), "1,000");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(thousands(-1234.0), "-1,234");
        assert_eq!(thousands(-123_456.0), "-123,456");
        assert_eq!(thousands(f64::NAN), "n/a");
        assert_eq!(usd_thousands(-1234.0), "-$1,234");
        assert_eq!(usd_thousands(12_345.67), "$12,346");
    }

    #[test]
    fn number_formats() {
        assert_eq!(signed_percent(0.012, 1), "+1.2%");
        assert_eq!(signed_percent(-0.005, 1), "-0.5%");
        assert_eq!(signed_percent(-0.0001, 1), "+0.0%");
        assert_eq!(signed_percent(0.0, 1), "+0.0%");
        assert_eq!(percent(0.3, 1), "30.0%");
        assert_eq!(percent(0.6, 0), "60%");
        assert_eq!(usd(-3.5, 2), "-$3.50");
        assert_eq!(usd(f64::INFINITY, 2), "n/a");
        assert_eq!(fixed(-0.001, 2), "0.00");
    }

    #[test]
    fn sell_reasons() {
        let atr = SellReason::AtrStop { stop_price: 110.0 };
        assert_eq!(sell_reason_text(&atr, Lang::En), "ATR trailing stop hit (stop 110.00)");
        assert!(sell_reason_text(&atr, Lang::Zh).contains("110.00"));
        for reason in [
            SellReason::MissingIndicators,
            SellReason::RotatedOut,
            SellReason::BelowSma60,
            atr,
            SellReason::DailyCircuitBreaker,
        ] {
            let en = sell_reason_text(&reason, Lang::En);
            let zh = sell_reason_text(&reason, Lang::Zh);
            assert!(!en.is_empty() && !zh.is_empty() && en != zh);
        }
    }

    #[test]
    fn parse_lang_values() {
        assert_eq!(parse_lang("en"), Ok(Lang::En));
        assert_eq!(parse_lang(" ZH "), Ok(Lang::Zh));
        assert_eq!(parse_lang("En\n"), Ok(Lang::En));
        for bad in ["", "fr", "zh-CN", "english"] {
            let err = parse_lang(bad).unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
            assert!(err.contains("\"en\"") && err.contains("\"zh\""), "{err}");
        }
    }

    #[test]
    fn safety_notes() {
        let en = |e: Event| render(&e, Lang::En, NAME);
        let zh = |e: Event| render(&e, Lang::Zh, NAME);
        let api = Event::ApiError { error: "x".into() };
        let load = Event::StateLoadFailed { error: "x".into() };
        for e in [api, load] {
            assert!(en(e.clone()).contains("nothing was traded"));
            assert!(zh(e).contains("未进行任何交易"));
        }
        let crash = Event::SystemCrash { error: "x".into() };
        assert!(en(crash.clone()).contains("already executed this run stay executed"));
        assert!(zh(crash).contains("已成交的订单保持有效"));
        let unresolved = Event::OrderUnresolved { symbol: "ETHUSDT".into(), client_order_id: "tc-1".into() };
        let text = en(unresolved.clone());
        assert!(text.contains("reconciled on the next run and not re-sent"), "{text}");
        assert!(text.contains("tc-1"));
        assert!(zh(unresolved).contains("不会重新下单"));
        let save = Event::StateSaveFailed { error: "x".into(), path: "artifacts/recovery.json".into() };
        assert!(en(save.clone()).contains("Recovery File: artifacts/recovery.json"));
        assert!(zh(save).contains("恢复文件: artifacts/recovery.json"));
    }

    #[test]
    fn long_errors_are_clipped() {
        let error = "é".repeat(5000);
        let body = render(&Event::ApiError { error }, Lang::En, NAME);
        assert!(body.chars().count() < DETAIL_LIMIT + 200);
        assert!(body.contains("é…"));
    }

    #[test]
    fn coalesce_short_is_plain_join() {
        let bodies = vec!["a\nb".to_string(), "c".to_string()];
        assert_eq!(coalesce(&bodies, Lang::En), "a\nb\n\nc");
        assert_eq!(coalesce(&[], Lang::En), "");
    }

    #[test]
    fn coalesce_batches_packs_in_order_without_truncating() {
        assert!(coalesce_batches(&[], Lang::En).is_empty());
        let short: Vec<String> = (0..5).map(|i| format!("body {i}")).collect();
        assert_eq!(coalesce_batches(&short, Lang::En), vec![(5, coalesce(&short, Lang::En))]);
        // 1500-char bodies: two fit (3002 chars), a third would not (4504).
        let long: Vec<String> = (0..5).map(|i| char::from(b'a' + i).to_string().repeat(1500)).collect();
        let batches = coalesce_batches(&long, Lang::Zh);
        assert_eq!(batches.iter().map(|b| b.0).collect::<Vec<_>>(), [2, 2, 1]);
        assert_eq!(batches[0].1, long[..2].join("\n\n"));
        assert_eq!(batches[2].1, long[4]);
        assert!(batches.iter().all(|(_, text)| text.chars().count() <= COALESCE_LIMIT));
        // Exactly at the limit stays together; one over splits.
        let edge = vec!["x".repeat(2000), "y".repeat(COALESCE_LIMIT - 2002)];
        assert_eq!(coalesce_batches(&edge, Lang::En).len(), 1);
        let over = vec!["x".repeat(2000), "y".repeat(COALESCE_LIMIT - 2001)];
        assert_eq!(coalesce_batches(&over, Lang::En).len(), 2);
        // A single oversized body goes alone, truncated.
        let huge = vec!["a".to_string(), "字".repeat(COALESCE_LIMIT + 10), "b".to_string()];
        let batches = coalesce_batches(&huge, Lang::En);
        assert_eq!(batches.iter().map(|b| b.0).collect::<Vec<_>>(), [1, 1, 1]);
        assert!(batches[1].1.ends_with("\n…(1 more, truncated)"));
    }

    #[test]
    fn coalesce_truncates_on_char_boundary() {
        // 3-byte chars and 4-byte emoji, 10 bodies of 600 chars each.
        let bodies: Vec<String> = (0..10).map(|_| "熔🚨".repeat(300)).collect();
        for lang in [Lang::En, Lang::Zh] {
            let out = coalesce(&bodies, lang);
            assert!(out.chars().count() <= COALESCE_LIMIT, "{}", out.chars().count());
            // 6 full bodies + separators = 3610 chars, the 7th is cut.
            assert!(out.starts_with(&bodies[..6].join("\n\n")));
            let expected_note = match lang {
                Lang::En => "\n…(4 more, truncated)",
                Lang::Zh => "\n…(另有 4 条，已截断)",
            };
            assert!(out.ends_with(expected_note), "{}", &out[out.len() - 40..]);
        }
        // Exactly at the limit: untouched.
        let exact = vec!["字".repeat(COALESCE_LIMIT)];
        assert_eq!(coalesce(&exact, Lang::En), exact[0]);
        // One char over: one body not in full.
        let over = vec!["字".repeat(COALESCE_LIMIT + 1)];
        let out = coalesce(&over, Lang::En);
        assert!(out.ends_with("\n…(1 more, truncated)"));
        assert!(out.chars().count() <= COALESCE_LIMIT);
    }
}
