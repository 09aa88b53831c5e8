//! Row ids: cuid2 strings, the same family as the seed's Prisma `cuid()` ids, so imported rows
//! and new rows share one column type and neither leaks a count or a creation order.

pub fn new_id() -> String {
    cuid2::create_id()
}

/// A random opaque token (for `sessions.session_token`).
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
