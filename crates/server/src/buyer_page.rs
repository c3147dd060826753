//! The page behind the card link, `/f/{token}`: a small self-contained form that talks to
//! `/api/public/forms/{token}`. It works without the admin SPA, on any phone browser, so the link
//! XGJ hands the buyer is never a dead end. The token stays out of referrers and caches.

use actix_web::{web, HttpResponse};
use base64::Engine;
use rand::RngCore;

const PAGE: &str = r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>填写出票资料</title>
<style nonce="__NONCE__">
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;background:#f5f5f5;color:#222}
main{max-width:480px;margin:0 auto;padding:16px}
.card{background:#fff;border-radius:8px;padding:16px;margin-bottom:12px}
h1{font-size:18px;margin:0 0 8px}
.state{color:#1677ff;font-weight:600}
label{display:block;margin:12px 0 4px;font-size:14px}
input,select{width:100%;box-sizing:border-box;padding:10px;border:1px solid #d9d9d9;border-radius:6px;font-size:16px}
.row{display:flex;gap:8px}.row select{width:auto;flex:none;max-width:55%}.row input{flex:1;min-width:0}
.done{background:#f6ffed;border:1px solid #b7eb8f}.done h1{color:#389e0d}
.err{color:#d4380d;font-size:13px;min-height:1em}
button{width:100%;margin-top:16px;padding:12px;border:0;border-radius:6px;background:#1677ff;color:#fff;font-size:16px}
button:disabled{background:#bbb}
.msg{margin-top:12px;font-size:14px}
.hidden{display:none}
dl{display:grid;grid-template-columns:6em 1fr;gap:4px 8px;margin:0}dt{color:#888}
</style></head>
<body><main>
<div class="card done hidden" id="done" role="status"><h1>✓ 资料已提交</h1><div>客服核对后为您出票,出票结果会显示在本页。请保存本页链接;如需修改资料,在下方修改后再次提交即可。</div></div>
<div class="card"><h1 id="goods">加载中…</h1><div>票种:<span id="ticket">-</span></div>
<div>实付金额:<span id="paid">-</span></div><div>订单状态:<span class="state" id="state">-</span></div></div>
<div class="card hidden" id="submitted"><h1>已提交的资料</h1><dl id="submitted-list"></dl></div>
<form class="card hidden" id="form" novalidate>
<h1>出票资料</h1>
<label for="name">姓名(与证件一致)</label><input id="name" name="name" maxlength="50" autocomplete="name"><div class="err" data-for="name"></div>
<label for="phone">手机号</label><div class="row"><select id="phoneCountryCode" name="phoneCountryCode">
<option value="+86">+86 中国大陆</option><option value="+852">+852 香港</option><option value="+853">+853 澳门</option><option value="+886">+886 台湾</option></select>
<input id="phone" name="phone" inputmode="tel" autocomplete="tel-national"></div><div class="err" data-for="phoneCountryCode"></div><div class="err" data-for="phone"></div>
<label for="certificateType">证件类型</label><select id="certificateType" name="certificateType"></select><div class="err" data-for="certificateType"></div>
<label for="certificateNo">证件号</label><input id="certificateNo" name="certificateNo" maxlength="30"><div class="err" data-for="certificateNo"></div>
<div id="extra" class="hidden"><label for="gender">性别</label><select id="gender" name="gender"><option value="">请选择</option><option value="male">男</option><option value="female">女</option></select><div class="err" data-for="gender"></div>
<label for="birthday">出生日期</label><input id="birthday" name="birthday" type="date"><div class="err" data-for="birthday"></div></div>
<label for="playDate">游玩日期</label><input id="playDate" name="playDate" type="date"><div class="err" data-for="playDate"></div>
<button id="submit" type="submit">提交</button><div class="msg" id="msg"></div>
</form>
</main>
<script nonce="__NONCE__">
(function(){
var token=location.pathname.split('/').pop();var api='/api/public/forms/'+encodeURIComponent(token);
var $=function(id){return document.getElementById(id)};var types=[];
function text(id,v){$(id).textContent=v==null?'-':v}
function extra(){var t=types.find(function(x){return x.value===$('certificateType').value});$('extra').className=t&&t.requiresGenderAndBirthday?'':'hidden'}
function errors(map){document.querySelectorAll('.err').forEach(function(e){e.textContent=(map&&map[e.dataset.for])||''})}
function render(f){text('goods',f.goodsName||'门票');text('ticket',f.ticketType);text('paid',f.paidAmount?'¥'+f.paidAmount:'-');text('state',f.stateText);
 types=f.certificateTypes;var sel=$('certificateType');if(!sel.options.length){types.forEach(function(t){var o=document.createElement('option');o.value=t.value;o.textContent=t.label;sel.appendChild(o)})}
 $('playDate').min=f.playDateMin;$('playDate').max=f.playDateMax;extra();
 if(f.submitted){$('submitted').className='card';var dl=$('submitted-list');dl.textContent='';
  [['姓名',f.submitted.name],['手机号',f.submitted.phoneCountryCode+' '+f.submitted.phone],['证件',f.submitted.certificateTypeLabel+' '+f.submitted.certificateNo],['游玩日期',f.submitted.playDate]].forEach(function(r){var dt=document.createElement('dt');dt.textContent=r[0];var dd=document.createElement('dd');dd.textContent=r[1];dl.appendChild(dt);dl.appendChild(dd)});
  $('submit').textContent='修改资料'}
 $('form').className=f.editable?'card':'card hidden'}
function fail(r,body){if(r.status===422){errors(body.fieldErrors);$('msg').textContent='请按提示修改后再提交'}else{$('msg').textContent=(body&&body.message)||'提交失败,请稍后再试'}}
fetch(api).then(function(r){return r.json().then(function(b){if(!r.ok){text('goods',b.message||'链接无效');return}render(b)})}).catch(function(){text('goods','网络错误,请刷新重试')});
$('certificateType').addEventListener('change',extra);
$('form').addEventListener('submit',function(ev){ev.preventDefault();errors({});$('msg').textContent='';$('submit').disabled=true;
 var data={};['name','phoneCountryCode','phone','certificateType','certificateNo','gender','birthday','playDate'].forEach(function(k){var v=$(k).value;if(v!=='')data[k]=v});
 fetch(api,{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify(data)}).then(function(r){return r.json().then(function(b){if(r.ok){render(b);$('msg').textContent='已提交,谢谢!';$('done').className='card done';window.scrollTo(0,0)}else{fail(r,b)}})}).catch(function(){$('msg').textContent='网络错误,请稍后再试'}).finally(function(){$('submit').disabled=false})});
})();
</script></body></html>"#;

pub async fn page(_token: web::Path<String>) -> HttpResponse {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let nonce = base64::engine::general_purpose::STANDARD.encode(bytes);
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            format!(
                "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; \
                 form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
            ),
        ))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(PAGE.replace("__NONCE__", &nonce))
}
