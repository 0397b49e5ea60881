//! The learning rate of each step.

/// HF's `get_linear_schedule_with_warmup`: lr · s/w during the `w = ceil(ratio · total)` warmup steps,
/// then linear decay to 0 at `total`. Step 0 therefore updates with lr 0 (the moments still advance).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinearSchedule {
    pub peak: f64,
    pub warmup: usize,
    pub total: usize,
}

impl LinearSchedule {
    pub fn new(peak: f64, warmup_ratio: f64, total: usize) -> LinearSchedule {
        LinearSchedule { peak, warmup: (warmup_ratio * total as f64).ceil() as usize, total }
    }

    /// The learning rate of 0-based step `step`.
    pub fn at(&self, step: usize) -> f64 {
        if step < self.warmup {
            self.peak * step as f64 / self.warmup.max(1) as f64
        } else {
            self.peak * (self.total.saturating_sub(step) as f64 / self.total.saturating_sub(self.warmup).max(1) as f64)
        }
    }
}
