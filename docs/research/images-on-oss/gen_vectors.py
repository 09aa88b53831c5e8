import datetime, json, base64, hmac, hashlib
from alibabacloud_oss_v2.signer.v4 import SignerV4
from alibabacloud_oss_v2.types import SigningContext, HttpRequest, Credentials

AK, SK, TOKEN = "ak", "sk", "token/with+special="
t = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
exp = t + datetime.timedelta(seconds=600)
out = {}
for name, method, hdrs, tok in [
    ("presign_get_no_token", "GET", {}, None),
    ("presign_get_token", "GET", {}, TOKEN),
    ("presign_put_ct_token", "PUT", {"Content-Type": "image/png"}, TOKEN),
]:
    req = HttpRequest(method, "https://bucket.oss-cn-hangzhou.aliyuncs.com/uploads/u1/a%20b.png", headers=dict(hdrs))
    ctx = SigningContext(product="oss", region="cn-hangzhou", bucket="bucket", key="uploads/u1/a b.png",
                         request=req, credentials=Credentials(AK, SK, tok), signing_time=t)
    ctx.auth_method_query = True
    ctx.expiration_time = exp
    SignerV4().sign(ctx)
    out[name] = {"method": method, "headers": hdrs, "url": req.url, "string_to_sign": ctx.string_to_sign}

# POST V4 policy (same algorithm as ali-oss signPostObjectPolicyV4 / getSignatureV4)
date = "20240102"; xdate = "20240102T030405Z"
cred = f"{AK}/{date}/cn-hangzhou/oss/aliyun_v4_request"
policy = {"expiration": "2024-01-02T03:14:05.000Z", "conditions": [
    {"bucket": "bucket"}, {"x-oss-signature-version": "OSS4-HMAC-SHA256"},
    {"x-oss-credential": cred}, {"x-oss-date": xdate}, {"x-oss-security-token": TOKEN},
    ["content-length-range", 1, 10485760], ["eq", "$key", "uploads/u1/abc.png"],
    ["eq", "$Content-Type", "image/png"]]}
p = base64.b64encode(json.dumps(policy, separators=(",", ":")).encode()).decode()
SV = SignerV4()
sig = SV._calc_signature(SK, date, "cn-hangzhou", "oss", p)
out["post_policy_v4"] = {"policy_json": json.dumps(policy, separators=(",", ":")), "policy_b64": p, "x-oss-signature": sig}
print(json.dumps(out, indent=1))

req = HttpRequest("PUT", "https://bucket.oss-cn-hangzhou.aliyuncs.com/uploads/u1/abc.png", headers={"Content-Type": "image/png", "content-length": "12345"})
ctx = SigningContext(product="oss", region="cn-hangzhou", bucket="bucket", key="uploads/u1/abc.png",
                     request=req, credentials=Credentials(AK, SK, TOKEN), signing_time=t, additional_headers={"content-length"})
ctx.auth_method_query = True; ctx.expiration_time = exp
SignerV4().sign(ctx)
print(json.dumps({"presign_put_ct_len_token": {"headers": req.headers if isinstance(req.headers, dict) else dict(req.headers), "url": req.url, "string_to_sign": ctx.string_to_sign}}, indent=1, default=str))
