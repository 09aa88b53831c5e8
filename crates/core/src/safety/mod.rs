//! Safety around the assistants' advice: emergency signs in what a user writes raise a fixed
//! card before anything the model says ([`red_flags`]), with numbers the operator configures
//! (`EMERGENCY_NUMBER`, default 120; `CRISIS_HOTLINE`, default 12356, China's national
//! psychological assistance hotline).

pub mod red_flags;
