//! What the account mails say, in the account's language: plain text, and the same as simple
//! HTML (a link to press; no images, no tracking).

use crate::language::Language;

/// One mail's subject and bodies.
#[derive(Debug, Clone)]
pub struct Letter {
    pub subject: String,
    pub text: String,
    pub html: String,
}

const SITE_NAME: &str = "易医问答 · Oracle & TCM";

impl Letter {
    /// A password-reset link for `email`, valid for `minutes`.
    pub fn password_reset(language: Language, email: &str, link: &str, minutes: i64) -> Self {
        match language {
            Language::Chinese => Self::new(
                "重置您的密码",
                &format!(
                    "有人（希望是您本人）请求重置 {SITE_NAME} 账户 {email} 的密码。请在 {minutes} 分钟内打开下面的链接设置新密码："
                ),
                link,
                "设置新密码",
                "如果这不是您本人的操作，请忽略此邮件，您的密码不会改变。链接只能使用一次，新的请求会使它失效。",
            ),
            Language::English => Self::new(
                "Reset your password",
                &format!(
                    "Someone (hopefully you) asked to reset the password of {email} at {SITE_NAME}. Open this link within {minutes} minutes to choose a new one:"
                ),
                link,
                "Choose a new password",
                "If it wasn't you, ignore this mail: your password stays as it is. The link works once, and a newer request replaces it.",
            ),
        }
    }

    /// A link that proves `email` belongs to the account, valid for `hours`.
    pub fn verify_email(language: Language, email: &str, link: &str, hours: i64) -> Self {
        match language {
            Language::Chinese => Self::new(
                "确认您的邮箱地址",
                &format!("请在 {hours} 小时内打开下面的链接，确认 {email} 是您在 {SITE_NAME} 的邮箱地址："),
                link,
                "确认邮箱地址",
                "如果您没有注册过账户，请忽略此邮件。",
            ),
            Language::English => Self::new(
                "Confirm your email address",
                &format!("Open this link within {hours} hours to confirm that {email} is your address at {SITE_NAME}:"),
                link,
                "Confirm my address",
                "If you did not create an account, ignore this mail.",
            ),
        }
    }

    fn new(subject: &str, intro: &str, link: &str, button: &str, outro: &str) -> Self {
        let text = format!("{intro}\n\n{link}\n\n{outro}\n\n— {SITE_NAME}\n");
        let html = format!(
            "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">\
             <p>{}</p><p><a href=\"{link}\">{}</a></p><p style=\"font-size:small;word-break:break-all\">{link}</p>\
             <p>{}</p><p>— {}</p></body></html>",
            escape(intro),
            escape(button),
            escape(outro),
            escape(SITE_NAME),
            link = escape(link),
        );
        Self { subject: subject.to_string(), text, html }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_carry_the_link_in_both_bodies_and_escape_html() {
        let link = "https://chat.example.com/#/reset/abc&def";
        let letter = Letter::password_reset(Language::English, "a<b>@example.com", link, 30);
        assert!(letter.text.contains(link) && letter.text.contains("30 minutes"));
        assert!(letter.html.contains("https://chat.example.com/#/reset/abc&amp;def"));
        assert!(letter.html.contains("a&lt;b&gt;@example.com") && !letter.html.contains("a<b>"));
        let chinese = Letter::verify_email(Language::Chinese, "a@example.com", link, 24);
        assert!(chinese.subject.contains("邮箱") && chinese.text.contains("24 小时"));
    }
}
