// The app's two languages. The browser's language decides at first; the clerk can switch, and
// the choice is remembered on this phone.
const TEXTS = {
  en: {
    appName: "Zhida", signIn: "Sign in", username: "Username", password: "Password",
    signOut: "Sign out", discardPending: (n) => `${n} change(s) are not synced yet. Sign out and lose them?`, signingIn: "Signing in…", wrongLogin: "Wrong username or password.",
    needNetwork: "Signing in needs the network once.",
    tasks: "Tasks", scan: "Scan", inbox: "Inbox", tips: "Tips",
    online: "Online", offline: "Offline", pending: (n) => `${n} waiting to sync`,
    synced: "All synced", syncNow: "Sync now", lastSync: "Last sync",
    noTasks: "No tasks yet. They appear here as soon as HQ publishes.",
    mine: "Mine", open: "Open to claim", done: "Done", other: "Other",
    due: "Due", overdue: "Overdue", late: "Late",
    status: {
      open: "open", claimed: "claimed", in_progress: "in progress", submitted: "submitted",
      approved: "approved", cancelled: "cancelled",
    },
    scanTitle: "Scan a task code", scanHint: "Point the camera at the task's QR code.",
    cameraOff: "No camera here: type the code printed under the QR.",
    startCamera: "Use the camera", typeCode: "Or type the code", claim: "Claim",
    codePlaceholder: "e.g. K7Q-4MPX",
    claimQueued: "Claim saved; it is sent as soon as the phone is online.",
    claimSent: "Claim sent.",
    claimants: "Held by", nobody: "Nobody yet", since: "since",
    start: "Start", checklist: "Checklist", sales: "Sales", sku: "Product", quantity: "Quantity",
    record: "Record", notes: "Notes", addNote: "Add note", notePlaceholder: "What happened?",
    photos: "Photos", takePhoto: "Take a photo", submit: "Submit", unclaim: "Give back",
    observedPrice: "Observed price", submitQuantity: "Quantity sold", proof: "Proof needed",
    photosNeeded: (n) => `${n} photo(s)`, waiting: "waiting", uploadWaiting: "upload waiting",
    instructionsChanged: "HQ changed the instructions since you claimed this task.",
    scanToClaim: "Scan this task's code to claim it",
    rejected: "Rejected by the server", serverState: "Server state",
    heldBy: (who, since) => `Held by ${who} since ${since}`,
    dismiss: "OK", back: "Back",
    pairings: "Sells well with", script: "What to say", used: "Used", converted: "Sold!",
    dismissed: "Not useful", thanks: "Thanks — counted.", noTips: "No featured products right now.",
    noNotifications: "Nothing in your inbox.", markRead: "Mark read", unread: "new",
    language: "中文",
    errors: {
      task_already_claimed: "Someone else holds this task.",
      task_not_claimable: "This task can no longer be claimed.",
      invalid_qr: "This code is not a valid task code.",
      qr_expired: "This code has expired: ask for a new sheet.",
      qr_revoked: "This code was replaced: ask for a new sheet.",
      wrong_store: "This task belongs to another store.",
      proof_missing: "Proof is missing.",
      not_claimant: "Only the task's claimant may do this.",
      task_locked: "The task is not open for changes.",
      invalid_transition: "That step is not possible in the task's state.",
      superseded: "A later edit by someone else won.",
      unknown_photo: "The photo has not reached the server.",
      out_of_scope: "Outside your store.",
      unknown_code: "No task has this code.",
    },
  },
  "zh-CN": {
    appName: "智达", signIn: "登录", username: "用户名", password: "密码",
    signOut: "退出登录", discardPending: (n) => `还有 ${n} 项修改未同步。仍要退出并丢弃吗？`, signingIn: "正在登录…", wrongLogin: "用户名或密码错误。",
    needNetwork: "首次登录需要联网。",
    tasks: "任务", scan: "扫码", inbox: "消息", tips: "话术",
    online: "在线", offline: "离线", pending: (n) => `${n} 项待同步`,
    synced: "已全部同步", syncNow: "立即同步", lastSync: "上次同步",
    noTasks: "暂无任务。总部发布后会立即出现在这里。",
    mine: "我的", open: "待领取", done: "已完成", other: "其他",
    due: "截止", overdue: "已逾期", late: "逾期提交",
    status: {
      open: "待领取", claimed: "已领取", in_progress: "进行中", submitted: "已提交",
      approved: "已通过", cancelled: "已取消",
    },
    scanTitle: "扫描任务码", scanHint: "将摄像头对准任务二维码。",
    cameraOff: "无法使用摄像头：请输入二维码下方的编码。",
    startCamera: "打开摄像头", typeCode: "或输入编码", claim: "领取",
    codePlaceholder: "例如 K7Q-4MPX",
    claimQueued: "领取已保存，联网后自动发送。",
    claimSent: "领取已发送。",
    claimants: "领取人", nobody: "暂无", since: "于",
    start: "开始", checklist: "检查项", sales: "销量", sku: "商品", quantity: "数量",
    record: "记录", notes: "备注", addNote: "添加备注", notePlaceholder: "发生了什么？",
    photos: "照片", takePhoto: "拍照", submit: "提交", unclaim: "退回",
    observedPrice: "实际价格", submitQuantity: "售出数量", proof: "需要的凭证",
    photosNeeded: (n) => `${n} 张照片`, waiting: "待同步", uploadWaiting: "待上传",
    instructionsChanged: "领取后总部修改了任务说明。",
    scanToClaim: "扫描此任务的二维码即可领取",
    rejected: "服务器拒绝", serverState: "服务器状态",
    heldBy: (who, since) => `${who} 于 ${since} 领取`,
    dismiss: "知道了", back: "返回",
    pairings: "搭配推荐", script: "推荐话术", used: "用过", converted: "成交了！",
    dismissed: "没用", thanks: "已记录，谢谢。", noTips: "目前没有主推商品。",
    noNotifications: "暂无消息。", markRead: "标为已读", unread: "新",
    language: "English",
    errors: {
      task_already_claimed: "该任务已被他人领取。",
      task_not_claimable: "该任务已无法领取。",
      invalid_qr: "这不是有效的任务码。",
      qr_expired: "任务码已过期，请索取新的任务单。",
      qr_revoked: "任务码已更换，请索取新的任务单。",
      wrong_store: "该任务属于其他门店。",
      proof_missing: "凭证不全。",
      not_claimant: "只有任务领取人可以操作。",
      task_locked: "任务当前不可修改。",
      invalid_transition: "任务当前状态不允许此操作。",
      superseded: "他人更晚的修改已生效。",
      unknown_photo: "照片尚未上传到服务器。",
      out_of_scope: "不属于你的门店。",
      unknown_code: "没有任务使用此编码。",
    },
  },
};

export const LANGUAGES = Object.keys(TEXTS);
const KEY = "zhida.lang";

export function chooseLanguage() {
  const saved = localStorage.getItem(KEY);
  if (saved && TEXTS[saved]) return saved;
  for (const wanted of navigator.languages || [navigator.language]) {
    if (/^zh\b/i.test(wanted)) return "zh-CN";
    if (/^en\b/i.test(wanted)) return "en";
  }
  return "zh-CN";
}

export function saveLanguage(lang) {
  localStorage.setItem(KEY, lang);
  document.documentElement.lang = lang;
}

export function texts(lang) {
  return TEXTS[lang] || TEXTS["zh-CN"];
}

export function formatTime(value, lang) {
  if (!value) return "";
  const date = new Date(value);
  return date.toLocaleString(lang, { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
