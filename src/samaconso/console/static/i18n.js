// French by default, English on demand (kept in localStorage). Keys are English phrases' ids.
const FR = {
  title: "Console des agences", signIn: "Connexion", login: "Identifiant", password: "Mot de passe",
  signInBtn: "Se connecter", signOut: "Se déconnecter", changePassword: "Mot de passe",
  idleOut: "Session fermée après inactivité. Reconnectez-vous.", expired: "Session expirée. Reconnectez-vous.",
  customers: "Clients", requests: "Demandes", notifications: "Notifications", dashboard: "Tableau de bord",
  admin: "Administration", staff: "Comptes agents", agencies: "Agences", requestTypes: "Types de demande",
  tariffs: "Tarifs", audit: "Journal d'audit",
  searchLabel: "Téléphone, nom, numéro de compteur ou de contrat", search: "Rechercher",
  noResult: "Aucun client trouvé.", name: "Nom", phone: "Téléphone", status: "Statut", since: "Client depuis",
  open: "Ouvrir", active: "actif", inactive: "inactif", locked: "verrouillé",
  profile: "Profil", language: "Langue", email: "E-mail", meters: "Compteurs", devices: "Appareils",
  receivedNotifications: "Notifications reçues", kind: "Type", number: "Numéro", holder: "Titulaire",
  address: "Adresse", agency: "Agence", people: "Personnes liées", owner: "propriétaire", sharer: "partage",
  purchases: "Achats Woyofal", bills: "Factures", date: "Date", amount: "Montant (FCFA)", kwh: "kWh",
  tokens: "Codes", resend: "Renvoyer le code par SMS", resendConfirm: "Renvoyer le code de l'achat {n} au {p} ?",
  resent: "Code de l'achat {n} renvoyé par SMS au {p}.", unlock: "Déverrouiller le compte",
  unlocked: "Compte déverrouillé.", pinCode: "Envoyer un code de réinitialisation du PIN",
  pinSent: "Code de réinitialisation envoyé par SMS.", confirm: "Confirmer", cancel: "Annuler",
  model: "Modèle", platform: "Plateforme", lastSeen: "Dernière activité", none: "Aucun.",
  prepaid: "Woyofal", postpaid: "Postpayé", showPurchases: "Voir les achats", showBills: "Voir les factures",
  due: "Échéance", queue: "File des demandes", all: "Tous", overdue: "En retard", onlyOverdue: "En retard seulement",
  filter: "Filtrer", type: "Type", customer: "Client", age: "Âge (h)", assignee: "Assignée à",
  takeIt: "Prendre en charge", reply: "Répondre", canned: "Réponse type", resolve: "Résoudre", reject: "Rejeter",
  comment: "Message au client", send: "Envoyer", history: "Historique", me: "moi", nobody: "personne",
  st_submitted: "soumise", st_in_progress: "en cours", st_resolved: "résolue", st_rejected: "rejetée", st_cancelled: "annulée",
  compose: "Nouvelle notification", target: "Destinataires", tAgency: "Mon agence", tOutage: "Coupure (agences)",
  tAll: "Toutes les agences", tEveryone: "Tout le monde (national)", titleFr: "Titre (français)", titleEn: "Titre (anglais)",
  bodyFr: "Message (français)", bodyEn: "Message (anglais)", preview: "Aperçu", sendNow: "Envoyer la notification",
  confirmSend: "Envoyer cette notification à : {t} ?", confirmNational: "Diffusion NATIONALE : confirmez une seconde fois.",
  delivery: "Livraison", targeted: "Appareils visés", sent: "Envoyés", failed: "Échecs", dead: "Jetons morts",
  pending: "En attente", deliveryStatus: "État", signups: "Inscriptions par jour (30 jours)",
  requestsByStatus: "Demandes par statut", deliveryRate: "Taux de livraison (7 j / 30 j)", figures: "Chiffres",
  currentPassword: "Mot de passe actuel", newPassword: "Nouveau mot de passe (12 caractères, lettres et chiffres)",
  save: "Enregistrer", passwordChanged: "Mot de passe changé. Vos autres sessions sont fermées.",
  error: "Erreur", loading: "Chargement…", notAllowed: "Réservé aux agents et administrateurs.",
  canned1: "Bonjour, votre demande est prise en charge par votre agence.",
  canned2: "Bonjour, votre problème est résolu. Merci de votre confiance.",
  canned3: "Bonjour, merci de passer en agence avec votre pièce d'identité.",
  national: "national", createdAt: "Créée le", accepted: "Notification acceptée : envoi en cours.",
  routing: "Affectation", assignTo: "Confier à", assign: "Affecter", assigned: "Demande affectée.", transferTo: "Transférer à l'agence", transfer: "Transférer",
  transferConfirm: "Transférer la demande à {a} ?", transferred: "Demande transférée.",
  ds_queued: "en file", ds_fanning_out: "répartition", ds_sending: "envoi", ds_done: "terminé",
};
const EN = {
  title: "Agency console", signIn: "Sign in", login: "Login", password: "Password",
  signInBtn: "Sign in", signOut: "Sign out", changePassword: "Password",
  idleOut: "Signed out after inactivity. Please sign in again.", expired: "Session expired. Please sign in again.",
  customers: "Customers", requests: "Requests", notifications: "Notifications", dashboard: "Dashboard",
  admin: "Administration", staff: "Staff accounts", agencies: "Agencies", requestTypes: "Request types",
  tariffs: "Tariffs", audit: "Audit log",
  searchLabel: "Phone, name, meter or contract number", search: "Search",
  noResult: "No customer found.", name: "Name", phone: "Phone", status: "Status", since: "Customer since",
  open: "Open", active: "active", inactive: "inactive", locked: "locked",
  profile: "Profile", language: "Language", email: "E-mail", meters: "Meters", devices: "Devices",
  receivedNotifications: "Notifications received", kind: "Kind", number: "Number", holder: "Holder",
  address: "Address", agency: "Agency", people: "Linked people", owner: "owner", sharer: "sharer",
  purchases: "Woyofal purchases", bills: "Bills", date: "Date", amount: "Amount (FCFA)", kwh: "kWh",
  tokens: "Tokens", resend: "Re-send the token by SMS", resendConfirm: "Re-send the token of purchase {n} to {p}?",
  resent: "Token of purchase {n} re-sent by SMS to {p}.", unlock: "Unlock the account",
  unlocked: "Account unlocked.", pinCode: "Send a PIN-reset code",
  pinSent: "PIN-reset code sent by SMS.", confirm: "Confirm", cancel: "Cancel",
  model: "Model", platform: "Platform", lastSeen: "Last seen", none: "None.",
  prepaid: "Woyofal", postpaid: "Postpaid", showPurchases: "Show purchases", showBills: "Show bills",
  due: "Due", queue: "Request queue", all: "All", overdue: "Overdue", onlyOverdue: "Overdue only",
  filter: "Filter", type: "Type", customer: "Customer", age: "Age (h)", assignee: "Assigned to",
  takeIt: "Take it", reply: "Reply", canned: "Canned answer", resolve: "Resolve", reject: "Reject",
  comment: "Message to the customer", send: "Send", history: "History", me: "me", nobody: "nobody",
  st_submitted: "submitted", st_in_progress: "in progress", st_resolved: "resolved", st_rejected: "rejected", st_cancelled: "cancelled",
  compose: "New notification", target: "Recipients", tAgency: "My agency", tOutage: "Outage (agencies)",
  tAll: "All agencies", tEveryone: "Everyone (national)", titleFr: "Title (French)", titleEn: "Title (English)",
  bodyFr: "Message (French)", bodyEn: "Message (English)", preview: "Preview", sendNow: "Send the notification",
  confirmSend: "Send this notification to: {t}?", confirmNational: "NATIONAL broadcast: confirm a second time.",
  delivery: "Delivery", targeted: "Targeted devices", sent: "Sent", failed: "Failed", dead: "Dead tokens",
  pending: "Pending", deliveryStatus: "Status", signups: "Sign-ups per day (30 days)",
  requestsByStatus: "Requests by status", deliveryRate: "Delivery rate (7 d / 30 d)", figures: "Figures",
  currentPassword: "Current password", newPassword: "New password (12 characters, letters and digits)",
  save: "Save", passwordChanged: "Password changed. Your other sessions are closed.",
  error: "Error", loading: "Loading…", notAllowed: "Reserved to agents and administrators.",
  canned1: "Hello, your agency is handling your request.",
  canned2: "Hello, your problem is solved. Thank you for your trust.",
  canned3: "Hello, please come to the agency with your identity card.",
  national: "national", createdAt: "Created", accepted: "Notification accepted: sending.",
  routing: "Routing", assignTo: "Give to", assign: "Assign", assigned: "Request assigned.", transferTo: "Transfer to agency", transfer: "Transfer",
  transferConfirm: "Transfer the request to {a}?", transferred: "Request transferred.",
  ds_queued: "queued", ds_fanning_out: "fanning out", ds_sending: "sending", ds_done: "done",
};

let current = localStorage.getItem("sc.lang") === "en" ? "en" : "fr";

export function lang() { return current; }

export function setLang(value) {
  current = value === "en" ? "en" : "fr";
  localStorage.setItem("sc.lang", current);
  document.documentElement.lang = current;
}

export function t(key, vars = {}) {
  const text = (current === "en" ? EN : FR)[key] ?? FR[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}
